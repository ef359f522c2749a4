import { claimStepWithContext, findFlow, findStepInstance, type StepResultRow } from "@ensemble/db";
import type { JobPayload, RateLimitSlot } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";
import { callStepProvider } from "./call-step-provider.js";
import { finishStep } from "./finish-step.js";
import type { InFlightCalls } from "./in-flight-calls.js";
import { recordStepMetrics } from "./step-metrics.js";

export interface StepJobControl {
  /** Puts the job back to run again after `ms` (another worker holds the step's lease). */
  deferFor(ms: number): Promise<never>;
}

export type RunStepResult = "done" | "already_done" | "stale" | "aborted" | "lease_lost" | "flow_ended";

/**
 * `step.run`: claim the step instance (fenced lease), call its provider, commit the
 * result and the next steps. BullMQ delivers at least once; the claim and the
 * fencing token make the effect exactly once.
 */
export async function runStep(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  payload: JobPayload<"step.run">,
  control: StepJobControl,
): Promise<RunStepResult> {
  const slot = await admitCall(deps, payload, control);
  let tokens = 0;
  try {
    const outcome = await claimAndRun(deps, inFlight, payload, control, slot);
    tokens = outcome.tokens;
    return outcome.result;
  } finally {
    await slot?.release(tokens).catch((err: unknown) => deps.logger.warn({ err, flowId: payload.flowId }, "rate-limit slot not released; it expires with the lease"));
  }
}

/**
 * Waits for the attempt's provider to be under its cluster-wide limits: over a limit,
 * the job is put back in the delayed set (no attempt spent, the step is not failed).
 */
async function admitCall(deps: EngineDeps, payload: JobPayload<"step.run">, control: StepJobControl): Promise<RateLimitSlot | null> {
  const limiter = deps.rateLimiter;
  if (!limiter || !payload.provider || !payload.model || !limiter.covers(payload.provider, payload.model)) return null;
  const holder = `${payload.flowId}:${payload.run}:${payload.stepId}:${payload.iteration}:${payload.attempt}`;
  const admission = await limiter.admit(payload.provider, payload.model, holder);
  if (admission.admitted) return admission.slot;
  deps.logger.debug({ flowId: payload.flowId, stepId: payload.stepId, limit: admission.limit, retryInMs: admission.retryInMs }, "step waits for a provider rate limit");
  return control.deferFor(admission.retryInMs);
}

async function claimAndRun(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  payload: JobPayload<"step.run">,
  control: StepJobControl,
  slot: RateLimitSlot | null,
): Promise<{ result: RunStepResult; tokens: number }> {
  const key = { flowId: payload.flowId, run: payload.run, stepId: payload.stepId, iteration: payload.iteration };
  const claim = await claimStepWithContext(deps.leaseDb, { ...key, attempt: payload.attempt, owner: deps.workerId, leaseMs: deps.settings.stepLeaseMs });
  if (!claim) return { result: await handleUnclaimable(deps, payload, control), tokens: 0 };
  const { claimed, flow, rows, policies } = claim;
  if (flow.run !== payload.run || flow.status !== "running") {
    await finishStep(deps, claimed, { status: "skipped", reason: "the flow is no longer running" }).catch(() => undefined);
    return { result: "flow_ended", tokens: 0 };
  }
  const compiled = deps.flows.get(flow.id, flow.definition);
  void deps.bus
    .publish(flow.id, "step_start", {
      stepId: claimed.stepId,
      data: { iteration: claimed.iteration, attempt: claimed.attempt, provider: payload.provider ?? claimed.provider, model: payload.model ?? claimed.model, action: claimed.action },
    })
    .catch((err: unknown) => deps.logger.warn({ err, flowId: flow.id }, "step_start event not published"));

  const callStartedAt = performance.now(); // step latency metric: this attempt, call to commit
  const outcome = await callStepProvider(deps, inFlight, {
    flow,
    compiled,
    rows,
    policies,
    claimed,
    checkHookCondition: compiled.byId.get(claimed.stepId)?.condition?.kind === "hook",
    ...(slot ? { renewRateLimit: () => slot.renew() } : {}),
  });
  if (outcome.status === "aborted") {
    deps.logger.info({ flowId: flow.id, stepId: claimed.stepId, reason: outcome.reason }, "step call aborted");
    return { result: "aborted", tokens: 0 };
  }
  const tokens = outcome.status === "skipped" ? 0 : (outcome.usage?.totalTokens ?? 0);
  const committed = await finishStep(deps, claimed, outcome);
  if (committed) recordStepMetrics(deps, outcome, performance.now() - callStartedAt);
  if (!committed) deps.logger.warn({ flowId: flow.id, stepId: claimed.stepId }, "lease lost before commit; another worker owns this step");
  return { result: committed ? "done" : "lease_lost", tokens };
}

async function handleUnclaimable(deps: EngineDeps, payload: JobPayload<"step.run">, control: StepJobControl): Promise<RunStepResult> {
  const row = await findStepInstance(deps.db, payload);
  if (!row || row.attempt > payload.attempt) return "stale";
  if (row.status === "running" && row.leaseExpiresAt) {
    // Another worker holds it (this is a redelivery): check again when its lease would run out.
    return control.deferFor(Math.max(row.leaseExpiresAt.getTime() - Date.now(), 0) + 500);
  }
  if (row.status === "pending") {
    // Its attempt number moved on (a newer attempt is pending) or it is not this job's; nothing to do.
    return "stale";
  }
  // The result is committed: this is a redelivery after a crash between commit and enqueue.
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
