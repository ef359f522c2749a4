import { and, asc, eq, gt, max } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flowEvents } from "../schema/tables.js";

export type FlowEventRow = typeof flowEvents.$inferSelect;

/** Archives events (from the live Redis stream); re-archiving the same sequence numbers is a no-op. */
export async function insertFlowEvents(db: Executor, rows: FlowEventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db.insert(flowEvents).values(rows.slice(i, i + 500)).onConflictDoNothing();
  }
}

export async function listFlowEvents(db: Executor, flowId: string, afterSeq = 0, limit = 10_000): Promise<FlowEventRow[]> {
  return db
    .select()
    .from(flowEvents)
    .where(and(eq(flowEvents.flowId, flowId), gt(flowEvents.seq, afterSeq)))
    .orderBy(asc(flowEvents.seq))
    .limit(limit);
}

/** The highest archived event id of a flow (0 when none): numbering goes on after it. */
export async function lastArchivedEventId(db: Executor, flowId: string): Promise<number> {
  const [row] = await db.select({ last: max(flowEvents.seq) }).from(flowEvents).where(eq(flowEvents.flowId, flowId));
  return Number(row?.last ?? 0);
}
