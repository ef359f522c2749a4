import { insertFlowEvents } from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";

/**
 * `flow.archive-events`: copies a finished flow's events from the Redis stream
 * (which expires) into Postgres, so replay works for as long as the flow exists.
 */
export async function archiveEvents(deps: EngineDeps, flowId: string): Promise<number> {
  const page = 1_000;
  let after = 0;
  let total = 0;
  for (;;) {
    const events = await deps.bus.readAfter(flowId, after, page);
    if (events.length === 0) return total;
    await insertFlowEvents(
      deps.db,
      events.map((e) => ({ flowId, seq: e.id, type: e.type, stepId: e.stepId ?? null, data: e.data ?? null, createdAt: new Date(e.timestamp) })),
    );
    total += events.length;
    if (events.length < page) return total; // a short page is the last
    after = events[events.length - 1]?.id ?? after;
  }
}
