import { insertFlowEvents } from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";

/**
 * `flow.archive-events`: copies a finished flow's events from the Redis stream
 * (which expires) into Postgres, so replay works for as long as the flow exists.
 */
export async function archiveEvents(deps: EngineDeps, flowId: string): Promise<number> {
  let after = 0;
  let total = 0;
  for (;;) {
    const events = await deps.bus.readAfter(flowId, after, 1_000);
    if (events.length === 0) return total;
    await insertFlowEvents(
      deps.db,
      events.map((e) => ({ flowId, seq: e.id, type: e.type, stepId: e.stepId ?? null, data: e.data ?? null, createdAt: new Date(e.timestamp) })),
    );
    total += events.length;
    after = events[events.length - 1]?.id ?? after;
  }
}
