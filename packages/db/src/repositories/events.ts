import { and, asc, eq, gt, max } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flowEvents } from "../schema/tables.js";
import { sendStatement } from "./statements.js";

export type FlowEventRow = typeof flowEvents.$inferSelect;

/**
 * Archives events (from the live Redis stream); re-archiving the same sequence numbers is a no-op. One prepared statement per
 * 500 rows, the rows as one JSON parameter: each finished flow archives its events, and
 * the query builder's per-row work was the archive's largest cost.
 */
export async function insertFlowEvents(db: Executor, rows: FlowEventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500).map((r) => ({
      flow_id: r.flowId,
      seq: r.seq,
      type: r.type,
      step_id: r.stepId,
      data: r.data,
      created_at: r.createdAt.toISOString(),
    }));
    await sendStatement(db, INSERT_EVENTS_STATEMENT, [JSON.stringify(batch)]);
  }
}

const INSERT_EVENTS_STATEMENT = `
  insert into flow_events (flow_id, seq, type, step_id, data, created_at)
  select r.flow_id, r.seq, r.type, r.step_id, r.data, r.created_at
  from jsonb_to_recordset($1::jsonb) as r(flow_id text, seq integer, type text, step_id text, data jsonb, created_at timestamptz)
  on conflict (flow_id, seq) do nothing`;

export async function listFlowEvents(
  db: Executor,
  flowId: string,
  afterSeq = 0,
  limit = 10_000,
): Promise<FlowEventRow[]> {
  return db
    .select()
    .from(flowEvents)
    .where(and(eq(flowEvents.flowId, flowId), gt(flowEvents.seq, afterSeq)))
    .orderBy(asc(flowEvents.seq))
    .limit(limit);
}

/** The highest archived event id of a flow (0 when none): numbering goes on after it. */
export async function lastArchivedEventId(db: Executor, flowId: string): Promise<number> {
  const [row] = await db
    .select({ last: max(flowEvents.seq) })
    .from(flowEvents)
    .where(eq(flowEvents.flowId, flowId));
  return Number(row?.last ?? 0);
}
