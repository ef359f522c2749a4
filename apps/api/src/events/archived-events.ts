import type { FlowStreamUpdate } from "@ensemble/core";
import { listFlowEvents, type Database } from "@ensemble/db";
import type { RunDeps } from "@ensemble/engine";

/**
 * Events of a flow from the Postgres archive (`flow_events`, written after each run by
 * `flow.archive-events`), as the bus delivers them. The feed reads here only when the
 * Redis stream no longer holds the next event (expired 7 days after a flow's last event,
 * or trimmed).
 */
export async function readArchivedEvents(
  db: Database,
  flowId: string,
  afterId: number,
  limit: number,
): Promise<FlowStreamUpdate[]> {
  const rows = await listFlowEvents(db, flowId, afterId, limit);
  // Each row was copied from an event the bus published (typed by its `type`), as the
  // bus's own readers take its JSON back: the pair is trusted, not parsed again.
  return rows.map(
    (row) =>
      ({
        id: row.seq,
        type: row.type,
        flowId: row.flowId,
        ...(row.stepId !== null ? { stepId: row.stepId } : {}),
        data: row.data,
        timestamp: row.createdAt.toISOString(),
      }) as FlowStreamUpdate,
  );
}

/** Whether any event after `afterId` is stored (Redis stream or archive). */
export async function hasEventsAfter(deps: RunDeps, flowId: string, afterId: number): Promise<boolean> {
  if ((await deps.bus.readAfter(flowId, afterId, 1)).length > 0) return true;
  return (await listFlowEvents(deps.db, flowId, afterId, 1)).length > 0;
}
