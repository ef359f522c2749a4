import type { FlowRow } from "@ensemble/db";
import type { JobDispatch } from "@ensemble/queue";

/**
 * What every step job of a run carries for fair sharing: the user the run is billed to (its
 * executor, else the flow's owner) and the run's priority class.
 */
export function stepDispatch(flow: Pick<FlowRow, "executedBy" | "userId" | "priority">): JobDispatch {
  return { userId: flow.executedBy ?? flow.userId, priority: flow.priority };
}
