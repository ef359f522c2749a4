import { and, asc, eq, gt } from "drizzle-orm";
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
