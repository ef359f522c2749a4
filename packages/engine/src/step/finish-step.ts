import { storableJson, type StepError } from "@ensemble/core";
import { createHash } from "node:crypto";
import {
  claimRunAdvance,
  finishStepWrites,
  lockRun,
  runSignature,
  sendGuardedPlan,
  STALE_PLAN_SQLSTATE,
  type ClaimedStep,
  type FinishStepInput,
  type Executor,
  type FlowRow,
  type GuardedPlanResult,
  type PlanBasis,
  type RunState,
  type StepResultRow,
} from "@ensemble/db";
import type { JobPayload } from "@ensemble/queue";
import { stageEvents, transactWithEvents, unstageEvents, type EffectEvent } from "../run/event-outbox.js";
import type { EngineDeps } from "../engine-deps.js";
import { capStepError } from "../spend/spend-caps.js";
import { addRunEndEffects, advanceRun, planRunEnd, rowsAfterPlan } from "../run/advance-run.js";
import { addPlanEffects, isIdlePlan, planAdvance, type AdvancePlan } from "../run/plan-advance.js";
import { emptyEffects, performEffects, type RunEffects } from "../run/run-effects.js";
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
   * then planned from them before the flow is locked and committed with the result (with
   * other runs' ends, see `PlannedEndCommitter`); if the run changed meanwhile, nothing is
   * written and the usual way plans under the lock.
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
 * Commits one attempt: the step result (fenced by the lease token), its ledger row, its
 * thread message, its spend — and the run's next steps. Three ways, chosen by planning from
 * the state the step was claimed in (`claimedWith`) as if this attempt were committed:
 *
 * - **alone** — that plan changes nothing (a parallel step whose siblings are still out):
 *   the end is committed without the flow's row lock, with other steps' ends (group
 *   commit), so siblings ending together do not queue on it; then `advanceAfterEnd` plans
 *   from what is committed and, if there is anything to do, one of them advances the run;
 * - **planned** — the plan changes no recorded instance (a sequential flow's next step, or
 *   its last step's end with the run's end): the end and the plan are committed with other
 *   runs' such ends in one transaction (`deps.plannedEnds`, group commit across runs), each
 *   written only if its run is still as the plan saw it (`finishWithPlannedSteps`);
 * - **under the lock** — otherwise (retries, cancels), or when that guard finds the run
 *   changed: lock, result, then plan from what the lock reads, in one transaction.
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
  const spendCapReached = options.claimedWith ? await userCapStop(deps, options.claimedWith.flow, outcome) : undefined;
  const predicted = options.claimedWith
    ? planFromClaim(deps, claimed, input, options.claimedWith, spendCapReached)
    : null;
  if (predicted && isIdlePlan(predicted.plan))
    return endStepAlone(deps, claimed, outcome, input, options, spendCapReached);
  const seen = options.claimedWith?.rows;
  const planned =
    predicted && seen && predicted.plan.instanceWrites.length === 0
      ? await finishWithPlannedSteps(deps, claimed, outcome, input, predicted, seen, options.continueAs)
      : null;
  const effects =
    planned?.effects ??
    (await finishUnderLock(deps, claimed, outcome, input, options.claimedWith ? spendCapReached : null));
  if (!effects) return { committed: false };
  options.onCommitted?.();
  return sendEffects(deps, effects, planned?.next);
}

/** The end and the plan under the flow's lock, in one transaction; null when the lease was lost (nothing written). */
async function finishUnderLock(
  deps: EngineDeps,
  claimed: StepResultRow,
  outcome: FinishOutcome,
  input: FinishStepInput,
  /** Null: not checked yet (the flow is read under the lock). */
  spendCapReached: StepError | undefined | null,
): Promise<RunEffects | null> {
  const effects = emptyEffects();
  try {
    await transactWithEvents(deps, effects.events, async (tx, control) => {
      const finished = await finishStepWrites(tx, input);
      if (!finished) throw new LeaseLostError("lease lost");
      effects.events.push(stepEvent(claimed, outcome));
      const { flow, rows } = finished;
      if (flow.status !== "running" || flow.run !== claimed.run) return;
      const capReached = spendCapReached === null ? await userCapStop(deps, flow, outcome, tx) : spendCapReached;
      await advanceRun(tx, flow, deps.flows.forRun(flow), rows, effects, {
        lifo: true,
        control,
        ...(capReached ? { spendCapReached: capReached } : {}),
      });
    });
  } catch (error) {
    if (error instanceof LeaseLostError) return null;
    throw error;
  }
  return effects;
}

/** Sends a commit's effects; with a next step, without waiting (the caller awaits `effectsSent` before the next commit). */
async function sendEffects(
  deps: EngineDeps,
  effects: RunEffects,
  next: ContinuedStep | undefined,
): Promise<FinishResult> {
  if (next) {
    // The next step starts now; its events queue behind these on the producer connection.
    const effectsSent = performEffects(deps, effects);
    effectsSent.catch(() => undefined);
    return { committed: true, next, effectsSent };
  }
  await performEffects(deps, effects);
  return { committed: true };
}

/** A plan made from the state the step was claimed in, with this attempt as committed. */
interface PredictedPlan {
  flow: FlowRow;
  /** The run's instances, this one as this attempt ends it. */
  rows: StepResultRow[];
  plan: AdvancePlan;
}

/** Null when the run was no longer running when the step was claimed (the lock decides then). */
function planFromClaim(
  deps: EngineDeps,
  claimed: StepResultRow,
  input: FinishStepInput,
  claimedWith: { flow: FlowRow; rows: StepResultRow[] },
  spendCapReached: StepError | undefined,
): PredictedPlan | null {
  const { flow } = claimedWith;
  if (flow.status !== "running" || flow.run !== claimed.run) return null;
  const ended = endedInstance(claimed, input);
  const rows = claimedWith.rows.map((r) => (r.id === claimed.id ? ended : r));
  const plan = planAdvance(flow, deps.flows.forRun(flow), rows, {
    lifo: true,
    ...(spendCapReached ? { spendCapReached } : {}),
  });
  return { flow, rows, plan };
}

/** The claimed instance as this attempt's end writes it (what planning reads of it). */
function endedInstance(claimed: StepResultRow, input: FinishStepInput): StepResultRow {
  const billed = input.usage !== null;
  return {
    ...claimed,
    status: input.status,
    output: input.output,
    provider: input.provider,
    model: input.model,
    usage: input.usage,
    cost: input.cost,
    error: input.error,
    spentTokens: claimed.spentTokens + (billed ? (input.usage?.totalTokens ?? 0) : 0),
    spentCost: claimed.spentCost + (billed ? (input.cost ?? 0) : 0),
  };
}

/**
 * The end of a step whose run has nothing to plan for it as it was claimed: committed without
 * the flow's row lock, with other steps' ends (`deps.stepEnds`, group commit); then the run
 * is advanced if what is committed now calls for it.
 */
async function endStepAlone(
  deps: EngineDeps,
  claimed: StepResultRow,
  outcome: FinishOutcome,
  input: FinishStepInput,
  options: FinishOptions,
  spendCapReached: StepError | undefined,
): Promise<FinishResult> {
  const ended: EffectEvent = {
    ...stepEvent(claimed, outcome),
    ifWritten: { stepResultId: claimed.id },
  };
  const { done, run } = await deps.stepEnds.end(input, [ended]);
  if (!done) return { committed: false };
  options.onCommitted?.();
  const effects = emptyEffects();
  effects.events.push(ended);
  let next: ContinuedStep | undefined;
  if (run?.advance) {
    // A sibling committed in the same batch plans the run.
    await run.advance;
  } else if (run) {
    const advancing = advanceAfterEnd(deps, done, run.state, options.continueAs, spendCapReached);
    run.advance = advancing;
    const advanced = await advancing;
    if (advanced) {
      addEffects(effects, advanced.effects);
      next = advanced.next;
    }
  }
  return sendEffects(deps, effects, next);
}

/**
 * After steps ended alone: plans their run from what was committed right after (`committed`)
 * and, when that plan changes anything, claims the advance from that state; the claim's
 * winner writes it (guarded in one round trip when it only adds steps, leasing the first to
 * this worker with `continueAs`; else, or when stale, planned again under the flow's lock).
 * Nothing is missed: of siblings ending at the same time, the one whose read comes last sees
 * every end, since each read follows its own commit. Siblings that read the same state make
 * one claim between them; any that read a later state claim that one too, and under the lock
 * find written what the first wrote (recorded instances are not planned again), so the run
 * advances once. Null when there was nothing to do or another step advances the run.
 */
async function advanceAfterEnd(
  deps: EngineDeps,
  done: StepResultRow,
  committed: RunState,
  continueAs: FinishOptions["continueAs"],
  spendCapReached: StepError | undefined,
): Promise<{ effects: RunEffects; next?: ContinuedStep } | null> {
  const { flow, rows } = committed;
  const capped = spendCapReached ? { spendCapReached } : {};
  // The flow may have ended, or moved on to another run, since this step was claimed.
  if (flow.status !== "running" || flow.run !== done.run) return null;
  const compiled = deps.flows.forRun(flow);
  const plan = planAdvance(flow, compiled, rows, { lifo: true, ...capped });
  if (isIdlePlan(plan)) return null;
  const stateKey = createHash("sha1").update(runSignature(rows)).digest("base64url");
  if (!(await claimRunAdvance(deps.db, flow.id, flow.run, stateKey))) return null;
  if (!plan.decision.outcome && plan.instanceWrites.length === 0) {
    const predicted = { flow, rows, plan };
    const continued = continueAs ? leaseFirstStep(plan, continueAs) : null;
    const planned = plannedEffects(predicted, []);
    const written = await writeGuardedPlan(deps, predicted, continued?.inserts ?? plan.inserts, {
      firstWrites: (tx) => lockRun(tx, flow.id, flow.run),
      basis: { stepResultId: done.id, leaseToken: done.leaseToken, status: done.status },
      events: planned.events,
    });
    if (written) return continueFromPlan(planned, predicted, continued, written);
  }
  const effects = emptyEffects();
  await transactWithEvents(deps, effects.events, async (tx, control) => {
    const locked = await lockRun(tx, flow.id, flow.run);
    if (!locked || locked.flow.run !== flow.run || locked.flow.status !== "running") return;
    await advanceRun(tx, locked.flow, compiled, locked.rows, effects, { lifo: true, control, ...capped });
  });
  return { effects };
}

/**
 * The planned finish, for a predicted plan that changes no recorded instance: the end, its
 * plan (with the run's end when the plan ends it) and their events go to the group commit
 * across runs (`deps.plannedEnds`), in one transaction with other runs' ends (the events
 * written only if the end is). Null when the run changed since the claim (or the lease was
 * lost): nothing was written, and the plan is made under the lock. If its batch failed, it
 * is written on its own: lock, result, planned steps (guarded), events and COMMIT in one
 * write; or, when it ends the run, under the lock (null).
 */
async function finishWithPlannedSteps(
  deps: EngineDeps,
  claimed: StepResultRow,
  outcome: FinishOutcome,
  input: FinishStepInput,
  predicted: PredictedPlan,
  seen: readonly StepResultRow[],
  continueAs: FinishOptions["continueAs"],
): Promise<{ effects: RunEffects; next?: ContinuedStep } | null> {
  const continued = continueAs ? leaseFirstStep(predicted.plan, continueAs) : null;
  const steps = continued?.inserts ?? predicted.plan.inserts;
  const effects = plannedEffects(predicted, [stepEvent(claimed, outcome)]);
  const ending = predicted.plan.decision.outcome
    ? planRunEnd(
        predicted.flow,
        deps.flows.forRun(predicted.flow),
        predicted.plan,
        rowsAfterPlan(predicted.flow, predicted.rows, steps),
      )
    : null;
  if (ending) addRunEndEffects(effects, ending);
  for (const event of effects.events) event.ifWritten = { stepResultId: claimed.id };
  const committed = await deps.plannedEnds.commit(
    {
      end: input,
      seenSignature: runSignature(seen),
      steps,
      progress: predicted.plan.progress,
      ...(ending ? { runEnd: ending.end } : {}),
    },
    effects.events,
  );
  let written: GuardedPlanResult | null = committed.written ? committed : null;
  // A run's end is written on its own under the lock (one end per transaction, as before batching).
  if ("batchFailed" in committed && ending) return null;
  if ("batchFailed" in committed) {
    unstageEvents(effects.events);
    written = await writeGuardedPlan(deps, predicted, steps, {
      // The lock is taken by the finish: the guard runs once it is held and the result written.
      firstWrites: (tx) => finishStepWrites(tx, input),
      basis: { stepResultId: claimed.id, leaseToken: claimed.leaseToken, status: input.status },
      events: effects.events,
    });
  }
  if (!written) return null;
  return continueFromPlan(effects, predicted, continued, written);
}

/**
 * Writes a plan made before the flow was locked, guarded (see `sendGuardedPlan`): `firstWrites`
 * (which lock the flow), the planned steps, their events and COMMIT in one write. Null when
 * the guard found the run changed and rolled back.
 */
async function writeGuardedPlan(
  deps: EngineDeps,
  { flow, rows, plan }: PredictedPlan,
  steps: AdvancePlan["inserts"],
  write: {
    firstWrites: (tx: Executor) => Promise<unknown>;
    /** The instance whose end the plan follows, as the plan saw it written. */
    basis: Omit<PlanBasis, "signature">;
    /** What the writes announce, written to the outbox with them. */
    events: EffectEvent[];
  },
): Promise<GuardedPlanResult | null> {
  const basis: PlanBasis = { ...write.basis, signature: runSignature(rows) };
  try {
    const sent = await deps.transact(async (tx, control) => {
      // Sent in this order in one write; the guard runs after the first writes.
      const first = write.firstWrites(tx);
      const guarded = sendGuardedPlan(tx, flow.id, flow.run, basis, steps, plan.progress);
      control.commitAfter(first, guarded);
      stageEvents(tx, control, write.events);
      return { guarded }; // wrapped: a returned promise would be awaited before COMMIT is sent
    });
    return await sent.guarded;
  } catch (error) {
    if (isStalePlan(error)) return null;
    throw error;
  }
}

/** A predicted plan's effects: the events of the writes before it (`firstEvents`), then the plan's own. */
function plannedEffects({ plan }: PredictedPlan, firstEvents: EffectEvent[]): RunEffects {
  const effects = emptyEffects();
  effects.events.push(...firstEvents);
  addPlanEffects(effects, plan);
  return effects;
}

/**
 * With `continued` (the plan's first step that starts at once, see `leaseFirstStep`) and that
 * step inserted leased, the step as `next`, without its job.
 */
function continueFromPlan(
  effects: RunEffects,
  { flow, rows, plan }: PredictedPlan,
  continued: ReturnType<typeof leaseFirstStep>,
  { leased, inserted, policies }: GuardedPlanResult,
): { effects: RunEffects; next?: ContinuedStep } {
  // Not inserted (it was already recorded): it keeps its job, like the others.
  if (!continued || !leased) return { effects };
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

/** Appends `more` to `effects`. */
function addEffects(effects: RunEffects, more: RunEffects): void {
  effects.jobs.push(...more.jobs);
  effects.events.push(...more.events);
  effects.abortFlows.push(...more.abortFlows);
  effects.archiveFlows.push(...more.archiveFlows);
  effects.endedRuns.push(...more.endedRuns);
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

/** The executing user's spend cap, if this attempt's cost (not yet in the ledger) reaches it. */
async function userCapStop(
  deps: EngineDeps,
  flow: FlowRow,
  outcome: FinishOutcome,
  db?: Executor,
): Promise<StepError | undefined> {
  const pendingUsd = outcome.status !== "skipped" && outcome.usage ? (outcome.cost ?? 0) : 0;
  const cap = await deps.spendCaps.reached(flow.executedBy ?? flow.userId, {
    pendingUsd,
    cachedLimits: true,
    ...(db ? { db } : {}),
  });
  return cap ? capStepError(cap) : undefined;
}
