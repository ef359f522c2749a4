import type { CompiledFlow } from "@ensemble/core";
import {
  lockRun,
  type Executor,
  type FlowRow,
  type LockedRun,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import { transactWithEvents } from "./event-outbox.js";
import type { RunDeps } from "../engine-deps.js";
import { advanceRun } from "./advance-run.js";
import { emptyEffects, performEffects, type RunEffects } from "./run-effects.js";
import { stepJobOf } from "./step-dispatch.js";

/** `flow.start`: the run begins — flow_start, then its first steps. Redelivery is harmless. */
export async function startRun(deps: RunDeps, flowId: string, run: number): Promise<void> {
  const effects = emptyEffects();
  await transactWithEvents(deps, effects.events, async (tx, control) => {
    const locked = await lockRun(tx, flowId, run);
    if (locked) await startLockedRun(deps, tx, control, locked, run, effects);
  });
  await performEffects(deps, effects);
}

/**
 * The writes of `flow.start` for a run whose flow is locked (`lockRun`) in the caller's
 * transaction, their effects added to `effects`: nothing when the flow has moved on to
 * another run or is no longer queued or running.
 */
export async function startLockedRun(
  deps: RunDeps,
  tx: Executor,
  control: TransactionControl,
  { flow, rows }: LockedRun,
  run: number,
  effects: RunEffects,
): Promise<void> {
  if (flow.run !== run) return;
  const flowId = flow.id;
  const compiled = deps.flows.forRun(flow);
  let startedAt: Date | undefined;
  if (flow.status === "queued") {
    startedAt = new Date();
    effects.events.push({
      flowId,
      type: "flow_start",
      data: { run, name: flow.name, type: flow.flowType, totalSteps: compiled.steps.length },
    });
    flow.status = "running";
    flow.startedAt = startedAt;
    // A rerun's reused steps are complete from the start: viewers learn of them as of any other.
    for (const row of rows.filter((r) => r.reusedFrom !== null && r.status === "success")) {
      effects.events.push({
        flowId,
        type: "step_complete",
        stepId: row.stepId,
        data: {
          iteration: row.iteration,
          attempt: row.attempt,
          output: row.output ?? "",
          provider: row.provider,
          model: row.model,
          usage: null,
          cost: row.cost,
          reusedFrom: row.reusedFrom as number,
        },
      });
    }
  }
  if (flow.status !== "running") return;
  // Also the repair path: re-planning a running flow dispatches only what is missing.
  // Starting, the flow is marked running in the same write as its first steps.
  await advanceRun(tx, flow, compiled, rows, effects, {
    lifo: false,
    control,
    ...(startedAt ? { startedAt } : {}),
  });
  // A start delivered again (its scheduler died after committing, before enqueuing the
  // first steps): their jobs go now, not when the sweep finds them stale.
  if (!startedAt) resendOpenStepJobs(flow, compiled, rows, effects);
}

/** `flow.advance`: re-plan a running flow from its stored results (repair after a crash). */
export async function advanceRunJob(deps: RunDeps, flowId: string, run: number): Promise<void> {
  const effects = emptyEffects();
  await transactWithEvents(deps, effects.events, async (tx, control) => {
    const locked = await lockRun(tx, flowId, run);
    if (!locked || locked.flow.run !== run || locked.flow.status !== "running") return;
    const { flow, rows } = locked;
    const compiled = deps.flows.forRun(flow);
    await advanceRun(tx, flow, compiled, rows, effects, { lifo: true, control });
    resendOpenStepJobs(flow, compiled, rows, effects);
  });
  await performEffects(deps, effects);
}

/**
 * Open steps whose job may have been lost are enqueued again (same job ids: no duplicates).
 * A running one may have no job of its own (leased to the worker that ran the step before
 * it): its job comes when its lease would run out, to take it over if it did.
 */
function resendOpenStepJobs(flow: FlowRow, compiled: CompiledFlow, rows: StepResultRow[], effects: RunEffects): void {
  for (const row of rows.filter((r) => r.status === "pending" || r.status === "running")) {
    const notBefore = row.status === "running" ? row.leaseExpiresAt : row.notBefore;
    effects.jobs.push({
      name: "step.run",
      payload: stepJobOf(flow, compiled, row, row.batchFallback !== null),
      delayMs: notBefore ? Math.max(0, notBefore.getTime() - Date.now()) : 0,
    });
  }
}
