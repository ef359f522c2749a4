import type { FlowStreamUpdate } from "@ensemble/core";
import { insertFlowEvents, type FlowEventRow } from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";

const PAGE = 1_000;
/** Flows archived per batch: their events are read in one pipelined round trip and written in one statement per 500 rows. */
const FLOWS_PER_BATCH = 100;

/**
 * `flow.archive-events`: copies one flow's events from the Redis stream (which expires)
 * into Postgres, so replay works for as long as the flow exists. Idempotent.
 */
export async function archiveEvents(deps: EngineDeps, flowId: string): Promise<number> {
  let after = 0;
  let total = 0;
  for (;;) {
    const events = await deps.bus.readAfter(flowId, after, PAGE);
    if (events.length === 0) return total;
    await insertFlowEvents(deps.db, events.map((e) => toRow(flowId, e)));
    total += events.length;
    if (events.length < PAGE) return total; // a short page is the last
    after = events[events.length - 1]?.id ?? after;
  }
}

/**
 * `flow.archive-due` (every second, from the scheduler): archives every ended flow whose
 * time has come (see ArchiveSchedule), in batches — one job for many flows rather than
 * a delayed job per flow. A flow is taken off the schedule only once its events are written.
 */
export async function archiveDueFlows(deps: EngineDeps, now = Date.now()): Promise<number> {
  let flows = 0;
  for (;;) {
    const due = await deps.archives.due(now, FLOWS_PER_BATCH);
    if (due.length === 0) return flows;
    const pages = await Promise.all(due.map((d) => deps.bus.readAfter(d.flowId, 0, PAGE)));
    const rows: FlowEventRow[] = [];
    const long: string[] = [];
    due.forEach((d, i) => {
      const events = pages[i] ?? [];
      if (events.length === PAGE) long.push(d.flowId); // more than a page: archived on its own
      else rows.push(...events.map((e) => toRow(d.flowId, e)));
    });
    await insertFlowEvents(deps.db, rows);
    for (const flowId of long) await archiveEvents(deps, flowId);
    await deps.archives.done(due);
    flows += due.length;
    if (due.length < FLOWS_PER_BATCH) return flows;
  }
}

function toRow(flowId: string, e: FlowStreamUpdate): FlowEventRow {
  return { flowId, seq: e.id, type: e.type, stepId: e.stepId ?? null, data: e.data ?? null, createdAt: new Date(e.timestamp) };
}
