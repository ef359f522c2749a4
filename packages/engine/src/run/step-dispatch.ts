import { targetForAttempt, type CompiledFlow } from "@ensemble/core";
import type { FlowRow, StepResultRow } from "@ensemble/db";
import type { JobDispatch, JobPayload } from "@ensemble/queue";

/**
 * What every step job of a run carries for fair sharing: the user the run is billed to (its
 * executor, else the flow's owner) and the run's priority class.
 */
export function stepDispatch(flow: Pick<FlowRow, "executedBy" | "userId" | "priority">): JobDispatch {
  return { userId: flow.executedBy ?? flow.userId, priority: flow.priority };
}

/**
 * The `step.run` job of a recorded instance, sent again (repair, a batch's fallback): on its
 * attempt's own provider's queue (a fallback's after the primary's retries).
 */
export function stepJobOf(
  flow: FlowRow,
  compiled: CompiledFlow,
  row: StepResultRow,
  batchFallback: boolean,
): JobPayload<"step.run"> {
  const step = compiled.byId.get(row.stepId);
  const target = step ? targetForAttempt(step, row.attempt) : { provider: row.provider, model: row.model };
  return {
    flowId: flow.id,
    run: row.run,
    stepId: row.stepId,
    iteration: row.iteration,
    attempt: row.attempt,
    label: `${flow.name} › ${row.stepId}`,
    provider: target.provider,
    model: target.model,
    dispatch: stepDispatch(flow),
    ...(batchFallback ? { batchFallback: true as const } : {}),
  };
}
