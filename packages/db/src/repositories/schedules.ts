import { and, desc, eq } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flowSchedules, scheduleFirings } from "../schema/tables.js";
import { newId } from "./ids.js";

export type FlowScheduleRow = typeof flowSchedules.$inferSelect;
export type ScheduleFiringRow = typeof scheduleFirings.$inferSelect;

export async function insertSchedule(
  db: Executor,
  input: Pick<FlowScheduleRow, "flowId" | "userId" | "cron" | "timezone" | "input" | "metadata"> &
    Partial<Pick<FlowScheduleRow, "priority">>,
): Promise<FlowScheduleRow> {
  const [row] = await db
    .insert(flowSchedules)
    .values({ id: newId(), ...input })
    .returning();
  return row as FlowScheduleRow;
}

export async function findSchedule(db: Executor, id: string): Promise<FlowScheduleRow | undefined> {
  const [row] = await db.select().from(flowSchedules).where(eq(flowSchedules.id, id));
  return row;
}

export async function listFlowSchedules(db: Executor, flowId: string): Promise<FlowScheduleRow[]> {
  return db.select().from(flowSchedules).where(eq(flowSchedules.flowId, flowId)).orderBy(flowSchedules.createdAt);
}

/** Every schedule: the scheduler re-asserts them all in Redis. */
export async function listAllSchedules(db: Executor): Promise<FlowScheduleRow[]> {
  return db.select().from(flowSchedules);
}

/** Deletes a flow's schedule (and its firings); false when the flow has no such schedule. */
export async function deleteSchedule(db: Executor, flowId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(flowSchedules)
    .where(and(eq(flowSchedules.id, id), eq(flowSchedules.flowId, flowId)))
    .returning({ id: flowSchedules.id });
  return deleted.length > 0;
}

/**
 * Claims a firing: true for the first caller per (schedule, firing time), false for any
 * later one. Inside the transaction that starts its run, the claim and the run commit together.
 */
export async function claimFiring(
  db: Executor,
  firing: Pick<ScheduleFiringRow, "scheduleId" | "fireAt" | "outcome" | "run" | "reason">,
): Promise<boolean> {
  const inserted = await db
    .insert(scheduleFirings)
    .values(firing)
    .onConflictDoNothing()
    .returning({ scheduleId: scheduleFirings.scheduleId });
  return inserted.length > 0;
}

export async function findFiring(
  db: Executor,
  scheduleId: string,
  fireAt: Date,
): Promise<ScheduleFiringRow | undefined> {
  const [row] = await db
    .select()
    .from(scheduleFirings)
    .where(and(eq(scheduleFirings.scheduleId, scheduleId), eq(scheduleFirings.fireAt, fireAt)));
  return row;
}

/** The latest firings of each schedule, newest first, at most `perSchedule` each (one indexed read per schedule). */
export async function recentFirings(
  db: Executor,
  scheduleIds: readonly string[],
  perSchedule: number,
): Promise<Map<string, ScheduleFiringRow[]>> {
  const lists = await Promise.all(
    scheduleIds.map((id) =>
      db
        .select()
        .from(scheduleFirings)
        .where(eq(scheduleFirings.scheduleId, id))
        .orderBy(desc(scheduleFirings.fireAt))
        .limit(perSchedule),
    ),
  );
  return new Map(scheduleIds.map((id, i) => [id, lists[i] ?? []]));
}

/** Forgets a firing whose run was taken back (not enqueued), so the job's retry fires it again. */
export async function releaseFiring(db: Executor, scheduleId: string, fireAt: Date): Promise<void> {
  await db
    .delete(scheduleFirings)
    .where(and(eq(scheduleFirings.scheduleId, scheduleId), eq(scheduleFirings.fireAt, fireAt)));
}
