import type { OrchestrationFlowStatus, OrchestrationFlowType } from "@ensemble/core";
import { and, asc, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flows } from "../schema/tables.js";
import { newId } from "./ids.js";

export type FlowRow = typeof flows.$inferSelect;
export type NewFlow = Pick<
  typeof flows.$inferInsert,
  "threadId" | "userId" | "name" | "description" | "flowType" | "definition"
>;

export async function insertFlow(db: Executor, input: NewFlow): Promise<FlowRow> {
  const [row] = await db
    .insert(flows)
    .values({ id: newId(), ...input })
    .returning();
  return row as FlowRow;
}

export async function findFlow(db: Executor, id: string): Promise<FlowRow | undefined> {
  const [row] = await db.select().from(flows).where(eq(flows.id, id));
  return row;
}

/** Reads a flow and locks its row until the transaction ends: advancing one run is serialized here. */
export async function lockFlow(db: Executor, id: string): Promise<FlowRow | undefined> {
  const [row] = await db.select().from(flows).where(eq(flows.id, id)).for("update");
  return row;
}

export async function updateFlow(db: Executor, id: string, patch: Partial<typeof flows.$inferInsert>): Promise<void> {
  await db.update(flows).set(patch).where(eq(flows.id, id));
}

export interface ListFlowsOptions {
  status?: OrchestrationFlowStatus;
  type?: OrchestrationFlowType;
  limit?: number;
  offset?: number;
  sortBy?: "createdAt" | "completedAt" | "name";
  sortOrder?: "ASC" | "DESC";
}

export async function listFlows(
  db: Executor,
  threadId: string,
  options: ListFlowsOptions = {},
): Promise<{ items: FlowRow[]; total: number }> {
  const filters: SQL[] = [eq(flows.threadId, threadId)];
  if (options.status) filters.push(eq(flows.status, options.status));
  if (options.type) filters.push(eq(flows.flowType, options.type));
  const where = and(...filters);
  const column = { createdAt: flows.createdAt, completedAt: flows.completedAt, name: flows.name }[
    options.sortBy ?? "createdAt"
  ];
  const order = options.sortOrder === "ASC" ? asc(column) : desc(column);
  const items = await db
    .select()
    .from(flows)
    .where(where)
    .orderBy(order, asc(flows.id))
    .limit(options.limit ?? 50)
    .offset(options.offset ?? 0);
  const [total] = await db.select({ n: count() }).from(flows).where(where);
  return { items, total: Number(total?.n ?? 0) };
}

export async function deleteFlow(db: Executor, id: string): Promise<void> {
  await db.delete(flows).where(eq(flows.id, id));
}

/** Flows in the given statuses (the sweeper looks for stuck runs). */
export async function listFlowsByStatus(
  db: Executor,
  statuses: OrchestrationFlowStatus[],
  limit = 500,
): Promise<FlowRow[]> {
  return db.select().from(flows).where(inArray(flows.status, statuses)).orderBy(asc(flows.createdAt)).limit(limit);
}

/** Readiness: true when the database answers. */
export async function pingDatabase(db: Executor): Promise<boolean> {
  try {
    await db.execute(sql`select 1`);
    return true;
  } catch {
    return false;
  }
}
