import { storableJson, type StepError } from "@ensemble/core";
import {
  finishStepWrites,
  runSignature,
  sendGuardedPlan,
  STALE_PLAN_SQLSTATE,
  type ClaimedStep,
  type FinishStepInput,
  type FlowRow,
  type StepResultRow,
} from "@ensemble/db";
import type { JobPayload } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";
import { advanceRun } from "../run/advance-run.js";
import { addPlanEffects, planAdvance, type AdvancePlan } from "../run/plan-advance.js";
import { emptyEffects, performEffects, type RunEffects } from "../run/run-effects.js";
import { capStepError } from "../spend/spend-caps.js";
import type { StepOutcome } from "./step-outcome.js";

class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

type FinishOutcome = Exclude<StepOutcome, { status: "aborted" | "deferred" }>;

export interface FinishOptions {
  /** Called once committed, in the same turn as the effects are sent (they can share a write). */
  onCommitted?: () => void;
  /**
   * The flow and the run's instances as the step was claimed with them. The next steps are
   * then planned from them before the flow is locked and sent with the result and COMMIT in
   * one round trip; if the run changed meanwhile, that transaction rolls back and the usual
   * one plans under the lock.
   */
  claimedWith?: { flow: FlowRow; rows: StepResultRow[] };
  /**
   * Lease the next step to this worker in the same transaction, and return it to be run
   * now: no job and no claim between two steps of a run. Only on the one-round-trip path,
   * for a step that starts at once (a first attempt) on a provider `serves` accepts (this
   * worker's pool); the others get jobs, on their providers' queues, as usual.
   */
  continueAs?: { owner: string; leaseMs: number; serves?: (provider: string) => boolean };
  /** The claimed step was leased by the plan before it: how long it has run (see `FinishStepInput.leasedRunningMs`). */
  leasedRunningMs?: number;
}

/** A step leased to this worker by the finish of the one before it, with what running it needs. */
export interface ContinuedStep extends ClaimedStep {
  /** The job it would otherwise have had: to defer it, it gets that job. */
  payload: JobPayload<"step.run">;
}

/**
 * Not committed: the lease was lost (another worker owns the step now; nothing was written).
 * With a next step, the commit's effects may still be on their way: `effectsSent` settles
 * once Redis has them (the next step's own events are sent behind them, on the same connection).
 */
export type FinishResult =
  | { committed: false }
  | { committed: true; next?: undefined }
  | { committed: true; next: ContinuedStep; effectsSent: Promise<void> };

/**
 * Commits one attempt in one transaction: the step result (fenced by the lease
 * token), its ledger row, its thread message, the flow's totals — and, under the
 * flow's row lock, the next steps.
 */
export async function finishStep(
  deps: EngineDeps,
  claimed: StepResultRow,
  attempt: FinishOutcome,
  options: FinishOptions = {},
): Promise<FinishResult> {
  // Where provider text enters storage: Postgres cannot hold NUL or lone surrogates, and the
  // result, its message, its event and the next steps' prompts should all see the same text.
  const outcome = storableJson(attempt);
  const input = finishInput(claimed, outcome, options.leasedRunningMs);
  // The executing user's spend cap, with this attempt's cost (not yet in the ledger) counted.
  let spendCapReached = options.claimedWith ? await userCapStop(deps, options.claimedWith.flow, outcome) : undefined;
  const planned = options.claimedWith
    ? await finishWithPlannedSteps(deps, claimed, outcome, input, options.claimedWith, {
        continueAs: options.continueAs,
        spendCapReached,
      })
    : null;
  let effects = planned?.effects;
  if (!effects) {
    effects = emptyEffects();
    const collected = effects;
    try {
      await deps.transact(async (tx, control) => {
        const finished = await finishStepWrites(tx, input);
        if (!finished) throw new LeaseLostError("lease lost");
        collected.events.push(stepEvent(claimed, outcome));
        const { rows } = finished;
        // The locked row was read before this attempt's totals were added: add them for the budget check.
        const flow = withSpend(finished.flow, outcome);
        if (flow.status !== "running" || flow.run !== claimed.run) return;
        if (!options.claimedWith) spendCapReached = await userCapStop(deps, finished.flow, outcome);
        await advanceRun(tx, flow, deps.flows.forRun(flow), rows, collected, {
          lifo: true,
          control,
          ...(spendCapReached ? { spendCapReached } : {}),
        });
      });
    } catch (error) {
      if (error instanceof LeaseLostError) return { committed: false };
      throw error;
    }
  }
  options.onCommitted?.();
  if (planned?.next) {
    // The next step starts now; its events queue behind these on the producer connection.
    const effectsSent = performEffects(deps, effects);
    effectsSent.catch(() => undefined); // awaited by the caller before the next commit
    return { committed: true, next: planned.next, effectsSent };
  }
  await performEffects(deps, effects);
  return { committed: true };
}

/**
 * The one-round-trip finish: plans from the state the step was claimed in, as if this
 * attempt's result were committed, and sends lock, result, planned steps (guarded) and
 * COMMIT together. Null when the plan must be made under the lock: the run ends or
 * recorded instances change (retries, cancels), or the guard found the run changed (or
 * the lease lost) and rolled everything back.
 */
async function finishWithPlannedSteps(
  deps: EngineDeps,
  claimed: StepResultRow,
  outcome: FinishOutcome,
  input: FinishStepInput,
  claimedWith: { flow: FlowRow; rows: StepResultRow[] },
  { continueAs, spendCapReached }: { continueAs: FinishOptions["continueAs"]; spendCapReached: StepError | undefined },
): Promise<{ effects: RunEffects; next?: ContinuedStep } | null> {
  if (claimedWith.flow.status !== "running" || claimedWith.flow.run !== claimed.run) return null;
  const committed: StepResultRow = {
    ...claimed,
    status: input.status,
    output: input.output,
    provider: input.provider,
    model: input.model,
    error: input.error,
  };
  const rows = claimedWith.rows.map((r) => (r.id === claimed.id ? committed : r));
  const flow = withSpend(claimedWith.flow, outcome);
  const plan = planAdvance(flow, deps.flows.forRun(flow), rows, {
    lifo: true,
    ...(spendCapReached ? { spendCapReached } : {}),
  });
  if (plan.decision.outcome || plan.instanceWrites.length > 0) return null;
  const continued = continueAs ? leaseFirstStep(plan, continueAs) : null;
  const basis = {
    stepResultId: claimed.id,
    leaseToken: claimed.leaseToken,
    status: input.status,
    signature: runSignature(rows),
    totalTokens: flow.totalTokens,
  };
  let written;
  try {
    const sent = await deps.transact(async (tx, control) => {
      // Sent in this order in one write; the guard runs once the lock is held and the result written.
      const finished = finishStepWrites(tx, input);
      const guarded = sendGuardedPlan(tx, flow.id, flow.run, basis, continued?.inserts ?? plan.inserts, plan.progress);
      control.commitAfter(finished, guarded);
      return { guarded }; // wrapped: a returned promise would be awaited before COMMIT is sent
    });
    written = await sent.guarded;
  } catch (error) {
    if (isStalePlan(error)) return null;
    throw error;
  }
  const effects = emptyEffects();
  effects.events.push(stepEvent(claimed, outcome));
  addPlanEffects(effects, plan);
  if (!continued) return { effects };
  const { leased, inserted, policies } = written;
  // Not inserted (it was already recorded): it keeps its job, like the others.
  if (!leased) return { effects };
  effects.jobs = effects.jobs.filter((j) => j !== continued.job);
  const next: ContinuedStep = {
    claimed: leased,
    flow: { ...flow, currentStepIndex: plan.currentStepIndex },
    rows: [...rows, ...inserted],
    policies,
    payload: continued.job.payload,
  };
  return { effects, next };
}

type StepJob = Extract<RunEffects["jobs"][number], { name: "step.run" }>;

/** The plan's first step that starts at once, marked to be inserted leased to `owner`. */
function leaseFirstStep(
  plan: AdvancePlan,
  { serves, ...lease }: NonNullable<FinishOptions["continueAs"]>,
): { inserts: AdvancePlan["inserts"]; job: StepJob } | null {
  const job = plan.effects.jobs.find(
    (j): j is StepJob =>
      j.name === "step.run" &&
      j.payload.attempt === 0 &&
      !j.delayMs &&
      (!serves || (j.payload.provider !== undefined && serves(j.payload.provider))),
  );
  if (!job) return null;
  const index = plan.inserts.findIndex(
    (s) => s.status === "pending" && s.stepId === job.payload.stepId && s.iteration === job.payload.iteration,
  );
  if (index < 0) return null;
  const inserts = plan.inserts.map((s, i) => (i === index ? { ...s, lease } : s));
  return { inserts, job };
}

function isStalePlan(error: unknown): boolean {
  // postgres.js raises the server's error; Drizzle (PGlite) wraps it in `cause`.
  for (let e = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth += 1) {
    if ((e as { code?: unknown }).code === STALE_PLAN_SQLSTATE) return true;
  }
  return false;
}

/** The flow as the planner must see it: its totals with this attempt's spend. */
/** The budget_exceeded error when the user billed for the run has reached a spend cap, counting this attempt's cost. */
async function userCapStop(deps: EngineDeps, flow: FlowRow, outcome: FinishOutcome): Promise<StepError | undefined> {
  const pendingUsd = outcome.status !== "skipped" && outcome.usage ? (outcome.cost ?? 0) : 0;
  const cap = await deps.spendCaps.reached(flow.executedBy ?? flow.userId, { pendingUsd, cachedLimits: true });
  return cap ? capStepError(cap) : undefined;
}

function withSpend(flow: FlowRow, outcome: FinishOutcome): FlowRow {
  const billed = outcome.status !== "skipped" && outcome.usage;
  return billed
    ? {
        ...flow,
        totalCost: flow.totalCost + (outcome.cost ?? 0),
        totalTokens: flow.totalTokens + (billed.totalTokens ?? 0),
      }
    : flow;
}

function finishInput(
  claimed: StepResultRow,
  outcome: FinishOutcome,
  leasedRunningMs: number | undefined,
): FinishStepInput {
  return {
    ...(leasedRunningMs !== undefined ? { leasedRunningMs } : {}),
    id: claimed.id,
    flowId: claimed.flowId,
    run: claimed.run,
    attempt: claimed.attempt,
    leaseToken: claimed.leaseToken,
    status: outcome.status,
    output: outcome.status === "success" ? outcome.output : null,
    provider: outcome.status === "skipped" ? claimed.provider : outcome.provider,
    model: outcome.status === "skipped" ? claimed.model : outcome.model,
    usage: outcome.status === "skipped" ? null : (outcome.usage ?? null),
    cost: outcome.status === "skipped" ? null : (outcome.cost ?? null),
    error:
      outcome.status === "failed"
        ? outcome.error
        : outcome.status === "skipped"
          ? { code: "skipped", message: outcome.reason }
          : null,
  };
}

function stepEvent(claimed: StepResultRow, outcome: FinishOutcome): RunEffects["events"][number] {
  const base = { flowId: claimed.flowId, stepId: claimed.stepId };
  switch (outcome.status) {
    case "success":
      return {
        ...base,
        type: "step_complete",
        data: {
          iteration: claimed.iteration,
          attempt: claimed.attempt,
          output: outcome.output,
          provider: outcome.provider,
          model: outcome.model,
          usage: outcome.usage,
          cost: outcome.cost,
        },
      };
    case "failed":
      return {
        ...base,
        type: "error",
        data: { iteration: claimed.iteration, attempt: claimed.attempt, error: outcome.error },
      };
    case "skipped":
      return { ...base, type: "step_skipped", data: { iteration: claimed.iteration, reason: outcome.reason } };
  }
}
