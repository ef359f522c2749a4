import { findFlow, findStepInstance, releaseStepClaim, type ClaimedStep, type StepResultRow } from "@ensemble/db";
import type { JobPayload } from "@ensemble/queue";
import { withStepAttemptSpan } from "@ensemble/telemetry";
import type { EngineDeps } from "../engine-deps.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";
import { parkBatchStep } from "../batch/park-step.js";
import { callStepProvider } from "./call-step-provider.js";
import { finishStep, type ContinuedStep } from "./finish-step.js";
import type { InFlightCalls } from "./in-flight-calls.js";
import { recordStepMetrics } from "./step-metrics.js";

export interface StepJobControl {
  /** Puts the job back to run again after `ms` (another worker holds the step's lease, or a rate limit is reached). */
  deferFor(ms: number): Promise<never>;
  /** Whether this worker may go on to the run's next step itself (not once it is shutting down). */
  mayContinue(): boolean;
  /** Whether this worker serves a provider: it goes on only to a next step of a provider it serves. */
  serves: (provider: string) => boolean;
  /** Whether this worker may call a model of a provider it serves (WORKER_MODELS); an attempt it may not call fails `model_not_allowed`. */
  allowsModel: (provider: string, model: string) => boolean;
  /** The job goes on with a later step of its run (for operators: the job's return value names them). */
  continuedWith(label: string): void;
}

export type RunStepResult =
  "done" | "already_done" | "stale" | "aborted" | "lease_lost" | "flow_ended" | "deferred" | "batched";

/**
 * `step.run`: claim the step instance (fenced lease), call its provider, commit the
 * result and the next steps. BullMQ delivers at least once; the claim and the
 * fencing token make the effect exactly once.
 *
 * The worker then runs the run's next step itself when the finish could lease it
 * (a sequential flow's steps follow each other with no job and no claim in between),
 * still inside this job: if the worker dies, this job's redelivery or the sweeper
 * repairs the run, and the leased step is taken over once its lease runs out.
 */
export async function runStep(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  payload: JobPayload<"step.run">,
  control: StepJobControl,
): Promise<RunStepResult> {
  const key = { flowId: payload.flowId, run: payload.run, stepId: payload.stepId, iteration: payload.iteration };
  const claim = await deps.claims.claim({
    ...key,
    attempt: payload.attempt,
    owner: deps.workerId,
    leaseMs: deps.settings.stepLeaseMs,
  });
  if (!claim) return handleUnclaimable(deps, payload, control);
  const { claimed, flow } = claim;
  if (claim.tookOver) deps.observer?.leaseTakeover(claimed.provider);
  if (flow.run !== payload.run || flow.status !== "running") {
    await finishStep(deps, claimed, { status: "skipped", reason: "the flow is no longer running" }).catch(
      () => undefined,
    );
    return "flow_ended";
  }
  let step: ClaimedStep | ContinuedStep = claim;
  let continued: Continued | undefined;
  for (;;) {
    const { claimed, flow: stepFlow }: ClaimedStep | ContinuedStep = step;
    const ran: Awaited<ReturnType<typeof runClaimedStep>> = await withStepAttemptSpan(
      stepFlow.trace,
      {
        flowId: stepFlow.id,
        run: stepFlow.run,
        stepId: claimed.stepId,
        iteration: claimed.iteration,
        attempt: claimed.attempt,
      },
      () => runClaimedStep(deps, inFlight, step, continued, control),
      (result) => (typeof result === "string" ? result : "done"),
    );
    if (typeof ran === "string") return ran;
    step = ran.next;
    continued = { leasedAt: performance.now(), effectsSent: ran.effectsSent };
    control.continuedWith(ran.next.payload.label ?? ran.next.payload.stepId);
  }
}

/** A step leased by the finish of the one before it. */
interface Continued {
  /** When this worker took it up. */
  leasedAt: number;
  /** The previous commit's effects (events, jobs): sent before this step commits. */
  effectsSent: Promise<void>;
}

/** Runs a claimed (or leased) attempt to its commit; returns the next step when this worker leased it. */
async function runClaimedStep(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  step: ClaimedStep | ContinuedStep,
  continued: Continued | undefined,
  control: StepJobControl,
): Promise<RunStepResult | { next: ContinuedStep; effectsSent: Promise<void> }> {
  const { claimed, flow, rows, policies } = step;
  const compiled = deps.flows.forRun(flow);
  const callStartedAt = performance.now(); // step latency metric: this attempt, call to commit
  const outcome = await callStepProvider(deps, inFlight, {
    flow,
    compiled,
    rows,
    policies,
    claimed,
    checkHookCondition: compiled.byId.get(claimed.stepId)?.condition?.kind === "hook",
    allowsModel: control.allowsModel,
  });
  // The step before it is announced (and its other jobs queued) before this one commits.
  await continued?.effectsSent;
  if (outcome.status === "aborted") {
    deps.logger.info({ flowId: flow.id, stepId: claimed.stepId, reason: outcome.reason }, "step call aborted");
    return "aborted";
  }
  if (outcome.status === "deferred") {
    // Over a provider's rate limit: give the claim back and come back when the limit allows.
    deps.logger.debug(
      { flowId: flow.id, stepId: claimed.stepId, limit: outcome.limit, retryInMs: outcome.retryInMs },
      "step waits for a provider rate limit",
    );
    deps.observer?.rateLimitWait(claimed.provider);
    await releaseStepClaim(deps.leaseDb, claimed.id, claimed.leaseToken);
    if (!("payload" in step)) return control.deferFor(outcome.retryInMs);
    // A leased step has no job of its own: it gets one now, and this job ends.
    const effects = emptyEffects();
    effects.jobs.push({ name: "step.run", payload: step.payload, delayMs: outcome.retryInMs });
    await performEffects(deps, effects);
    return "deferred";
  }
  // A batch step: it waits in its provider's next batch, holding no worker slot.
  if (outcome.status === "batch") return parkBatchStep(deps, flow, claimed, outcome);
  const finished = await finishStep(deps, claimed, outcome, {
    onCommitted: () => recordStepMetrics(deps, outcome, performance.now() - callStartedAt),
    claimedWith: { flow, rows },
    ...(control.mayContinue()
      ? { continueAs: { owner: deps.workerId, leaseMs: deps.settings.stepLeaseMs, serves: control.serves } }
      : {}),
    ...(continued ? { leasedRunningMs: performance.now() - continued.leasedAt } : {}),
  });
  if (!finished.committed) {
    deps.logger.warn(
      { flowId: flow.id, stepId: claimed.stepId },
      "lease lost before commit; another worker owns this step",
    );
    return "lease_lost";
  }
  return finished.next ? { next: finished.next, effectsSent: finished.effectsSent } : "done";
}

async function handleUnclaimable(
  deps: EngineDeps,
  payload: JobPayload<"step.run">,
  control: StepJobControl,
): Promise<RunStepResult> {
  const row = await findStepInstance(deps.db, payload);
  if (!row || row.attempt > payload.attempt) return "stale";
  if (row.status === "running" && row.leaseExpiresAt) {
    // Another worker holds it (this is a redelivery, or the step was leased to the worker
    // that ran the one before it): check again when its lease would run out.
    return control.deferFor(Math.max(row.leaseExpiresAt.getTime() - Date.now(), 0) + 500);
  }
  if (row.status === "pending") {
    // Its attempt number moved on (a newer attempt is pending) or it is not this job's; nothing to do.
    return "stale";
  }
  // The result is committed: this is a redelivery after a crash between commit and enqueue,
  // or of a job whose worker died running a later step it had leased.
  // Make sure the run's open steps have their jobs (same job ids: no duplicates).
  await reenqueueOpenSteps(deps, row);
  return "already_done";
}

async function reenqueueOpenSteps(deps: EngineDeps, row: StepResultRow): Promise<void> {
  const flow = await findFlow(deps.db, row.flowId);
  if (!flow || flow.run !== row.run || flow.status !== "running") return;
  const effects = emptyEffects();
  effects.jobs.push({ name: "flow.advance", payload: { flowId: flow.id, run: flow.run } });
  await performEffects(deps, effects);
}
