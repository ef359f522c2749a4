import {
  applyRunBatchDelivery,
  isTerminalFlowStatus,
  strictestRules,
  ValidationError,
  type CompiledFlow,
  type FlowDefinition,
  type RunBatchDelivery,
  type RunPriority,
  type TimeoutConfig,
} from "@ensemble/core";
import {
  claimFiring,
  insertStepInstances,
  lockFlowToExecute,
  releaseFiring,
  sendArchivedRun,
  sendQueuedRun,
  undoQueuedRun,
  type FlowRow,
} from "@ensemble/db";
import { newRunTrace } from "@ensemble/telemetry";
import type { RunDeps } from "../engine-deps.js";
import { FlowConflictError, NotFoundError } from "../errors/engine-errors.js";
import { assertPoliciesAllow } from "./check-data-sharing.js";
import { inOverrideTerms, prepareRerun, type RerunRequest } from "./prepare-rerun.js";
import { emptyEffects, performEffects } from "./run-effects.js";

export interface ExecuteFlowOptions {
  /** The user who executes the run: their data-sharing policies apply with the thread owner's. */
  executedBy: string;
  input?: string;
  metadata?: Record<string, unknown>;
  saveMessages?: boolean;
  timeout?: TimeoutConfig;
  /** The run's priority class; its step jobs inherit it. Default: a rerun keeps the flow's current run's, else `normal`. */
  priority?: RunPriority;
  /** Run this one step alone (`executeStep`), its input the run's. */
  onlyStepId?: string;
  /** The HTTP request's id: it follows the run into the scheduler's log. */
  requestId?: string;
  /** Rerun an earlier run from one of its steps (see prepareRerun); `input` defaults to that run's. */
  rerun?: RerunRequest;
  /** `"delivery": "batch"` for the whole run: its model steps that set no delivery go in provider batches. */
  batchDelivery?: RunBatchDelivery;
  /** A schedule's firing: claimed with the run, so each firing starts at most one run. */
  firing?: { scheduleId: string; fireAt: Date };
}

/** The firing was claimed before (the job ran again): nothing is started. */
export class FiringAlreadyHandledError extends Error {
  override readonly name = "FiringAlreadyHandledError";
}

export interface ExecuteFlowResult {
  flowId: string;
  run: number;
  status: "queued";
  rerunOf: { run: number; fromStep: string } | null;
}

/**
 * Starts a new run of a flow: records it as queued and enqueues `flow.start`
 * (the scheduler plans and dispatches). A flow already queued or running is a conflict.
 * The flow timeout (execute's `timeout.flowMs`, else the definition's
 * maxExecutionTime) is a delayed `flow.cancel` job that ends the run `timed_out`.
 *
 * The answer is the truth: when the run cannot be enqueued (Redis down or full), it is
 * taken back and the error thrown, so a 5xx means it will not run and a retry is safe.
 * Only if it could not be taken back (it started, or Postgres is gone too and the row
 * stays queued, which the sweeper starts) does this resolve: the run will happen.
 */
export async function executeFlow(
  deps: RunDeps,
  flowId: string,
  options: ExecuteFlowOptions,
): Promise<ExecuteFlowResult> {
  // Before any lock: a user over a spend cap starts nothing (see SpendCaps for the bound on overshoot).
  await deps.spendCaps.assertWithin(options.executedBy);
  const effects = emptyEffects();
  // Two round trips: lock and read (flow, policies, archived events), then the new run with COMMIT.
  let previous: FlowRow | undefined;
  const { run, lastArchivedEventId } = await deps.transact(async (tx, control) => {
    const locked = await lockFlowToExecute(tx, flowId, options.executedBy);
    if (!locked) throw new NotFoundError("flow");
    const { flow } = locked;
    previous = flow;
    if (!isTerminalFlowStatus(flow.status) && flow.status !== "pending") {
      throw new FlowConflictError(
        `flow is ${flow.status}; cancel it or wait for it to end before executing it again`,
        flow.id,
        flow.status,
      );
    }
    const onlyStepId = options.onlyStepId ?? null;
    const run = flow.run + 1;
    if (options.firing) {
      const claimed = await claimFiring(tx, { ...options.firing, outcome: "started", run, reason: null });
      if (!claimed) throw new FiringAlreadyHandledError(`firing ${options.firing.fireAt.toISOString()} was handled`);
    }
    const now = new Date();
    const rerun = options.rerun ? await prepareRerun(tx, flow, options.rerun, run, now) : null;
    if (options.batchDelivery && onlyStepId)
      throw new ValidationError([
        { path: "delivery", message: 'a step run alone takes its delivery from its definition; set "delivery" there' },
      ]);
    const batched = options.batchDelivery && !rerun ? runWithBatchDelivery(flow, options.batchDelivery) : null;
    const compiled =
      rerun?.compiled ?? batched ?? deps.flows.forRun({ id: flow.id, definition: flow.definition, onlyStepId });
    try {
      assertPoliciesAllow(strictestRules(locked.policies), compiled);
      // A flow stored while its provider was served may outlive it: its next run is refused too.
      // Read inside this transaction: it holds one of the pool's connections.
      await deps.providerCatalog.assertServed(compiled, tx);
    } catch (error) {
      throw options.rerun ? inOverrideTerms(error, compiled.definition, options.rerun.overrides ?? {}) : error;
    }
    const flowTimeoutMs = options.timeout?.flowMs ?? compiled.definition.maxExecutionTime;
    // The reused steps are the new run's first rows: its planner starts after them.
    if (rerun) await insertStepInstances(tx, rerun.reused);
    control.commitAfter(
      // The run being replaced goes into the history first.
      sendArchivedRun(tx, flow.id),
      sendQueuedRun(tx, flow.id, {
        run,
        executedBy: options.executedBy,
        onlyStepId,
        input: options.input ?? rerun?.sourceInput ?? "",
        metadata: options.metadata ?? {},
        saveMessages: options.saveMessages ?? false,
        stepTimeoutMs: options.timeout?.stepMs ?? null,
        deadlineAt: flowTimeoutMs ? new Date(now.getTime() + flowTimeoutMs) : null,
        queuedAt: now,
        priority: options.priority ?? (options.rerun ? flow.priority : "normal"),
        trace: newRunTrace(),
        rerun: options.rerun
          ? { of: options.rerun.of, fromStep: options.rerun.fromStep, definition: rerun?.runDefinition ?? null }
          : null,
        definition: batched ? batched.definition : null,
      }),
    );
    const label = onlyStepId ? `${flow.name} › ${onlyStepId}` : flow.name;
    const requestId = options.requestId ? { requestId: options.requestId } : {};
    effects.jobs.push({ name: "flow.start", payload: { flowId, run, label, ...requestId } });
    if (flowTimeoutMs)
      effects.jobs.push({
        name: "flow.cancel",
        payload: { flowId, run, reason: "timed_out", label },
        delayMs: flowTimeoutMs,
      });
    return { run, lastArchivedEventId: locked.lastArchivedEventId };
  });
  try {
    // Events of earlier runs may survive only in the archive: number this run's after them.
    await deps.bus.continueNumberingAfter(flowId, lastArchivedEventId);
    await performEffects(deps, effects);
  } catch (error) {
    if (previous && (await takeBack(deps, previous, run))) {
      if (options.firing) await releaseFiring(deps.db, options.firing.scheduleId, options.firing.fireAt);
      throw error;
    }
    deps.logger.warn(
      { err: error, flowId, run },
      "run not fully enqueued, and not taken back (it started, or Postgres is unreachable too): it goes ahead; the sweeper starts it if needed",
    );
  }
  const rerunOf = options.rerun ? { run: options.rerun.of, fromStep: options.rerun.fromStep } : null;
  return { flowId, run, status: "queued", rerunOf };
}

/** The run's own definition under an execute's batch delivery; a ValidationError names the execute's field. */
function runWithBatchDelivery(flow: FlowRow, delivery: RunBatchDelivery): CompiledFlow {
  const result = applyRunBatchDelivery(flow.definition as unknown as FlowDefinition, delivery);
  if (!result.ok) throw new ValidationError(result.issues);
  return result.flow;
}

/** undoQueuedRun, false when it fails too (the row stays queued). */
async function takeBack(deps: RunDeps, previous: FlowRow, run: number): Promise<boolean> {
  try {
    return await undoQueuedRun(deps.db, previous, run);
  } catch (err) {
    deps.logger.error({ err, flowId: previous.id, run }, "could not take back a run that was not enqueued");
    return false;
  }
}

/** Asks the scheduler to cancel a flow's current run (202: it happens within a second). */
export async function requestCancel(deps: RunDeps, flowId: string, run: number): Promise<void> {
  await deps.producer.add("flow.cancel", { flowId, run, reason: "cancelled" });
  // Also signal the workers directly: the abort does not wait for the scheduler's turn.
  await deps.cancelSignals.publish(flowId, "cancelled");
}
