import { and, asc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { stepBatches, stepResults, type BatchRequestColumn, type StepBatchState } from "../schema/tables.js";
import { newId } from "./ids.js";
import type { StepResultRow } from "./step-results.js";

export type StepBatchRow = typeof stepBatches.$inferSelect;
export type { BatchRequestColumn, StepBatchState } from "../schema/tables.js";

const nowSql = sql`clock_timestamp()`;
const secondsFromNow = (ms: number) => sql`clock_timestamp() + make_interval(secs => ${ms / 1000})`;

/**
 * A claimed batch-delivery step becomes `batched`, if this claim still holds it: its request is
 * kept for the batch, its lease given up. Returns the row, or undefined when the lease was lost.
 */
export async function parkBatchedStep(
  db: Executor,
  input: { id: string; leaseToken: number; request: BatchRequestColumn; fallBackInMs: number },
): Promise<StepResultRow | undefined> {
  const [row] = await db
    .update(stepResults)
    .set({
      status: "batched",
      batchRequest: input.request,
      batchedAt: nowSql,
      batchDeadlineAt: secondsFromNow(input.fallBackInMs),
      leaseOwner: null,
      leaseExpiresAt: null,
    })
    .where(
      and(
        eq(stepResults.id, input.id),
        eq(stepResults.leaseToken, input.leaseToken),
        eq(stepResults.status, "running"),
      ),
    )
    .returning();
  return row;
}

/** Batched steps not yet in a batch, per provider and model: how many, and how long the oldest has waited. */
export interface UnbatchedGroup {
  provider: string;
  model: string;
  count: number;
  oldestAgeMs: number;
}

export async function listUnbatchedGroups(db: Executor): Promise<UnbatchedGroup[]> {
  const rows = await db
    .select({
      provider: stepResults.provider,
      model: stepResults.model,
      count: sql<number>`count(*)::int`,
      oldestAgeMs: sql<number>`(extract(epoch from clock_timestamp() - min(${stepResults.batchedAt})) * 1000)::float8`,
    })
    .from(stepResults)
    .where(and(eq(stepResults.status, "batched"), isNull(stepResults.batchId)))
    .groupBy(stepResults.provider, stepResults.model);
  return rows.map((r) => ({ ...r, count: Number(r.count), oldestAgeMs: Number(r.oldestAgeMs) }));
}

/**
 * Records a batch (`submitting`) of at most `maxSize` of a provider and model's batched steps
 * not yet in one, oldest first, and names it in their rows, in one transaction (`db` must be
 * one). Steps another sweep is assigning are skipped. Undefined when there were none.
 */
export async function createStepBatch(
  db: Executor,
  input: { provider: string; model: string; maxSize: number },
): Promise<StepBatchRow | undefined> {
  const chosen = await db
    .select({ id: stepResults.id, deadlineAt: stepResults.batchDeadlineAt })
    .from(stepResults)
    .where(
      and(
        eq(stepResults.status, "batched"),
        isNull(stepResults.batchId),
        eq(stepResults.provider, input.provider),
        eq(stepResults.model, input.model),
      ),
    )
    .orderBy(asc(stepResults.batchedAt))
    .limit(input.maxSize)
    .for("update", { skipLocked: true });
  if (chosen.length === 0) return undefined;
  const deadlines = chosen.map((c) => c.deadlineAt?.getTime() ?? Date.now());
  const [batch] = await db
    .insert(stepBatches)
    .values({
      id: newId(),
      provider: input.provider,
      model: input.model,
      state: "submitting",
      itemCount: chosen.length,
      deadlineAt: new Date(Math.min(...deadlines)),
    })
    .returning();
  if (!batch) return undefined;
  await db
    .update(stepResults)
    .set({ batchId: batch.id })
    .where(
      inArray(
        stepResults.id,
        chosen.map((c) => c.id),
      ),
    );
  return batch;
}

export async function findStepBatch(db: Executor, id: string): Promise<StepBatchRow | undefined> {
  const [row] = await db.select().from(stepBatches).where(eq(stepBatches.id, id));
  return row;
}

/** The steps of a batch that still wait for its result (not cancelled, not fallen back). */
export async function listBatchedSteps(db: Executor, batchId: string): Promise<StepResultRow[]> {
  return db
    .select()
    .from(stepResults)
    .where(and(eq(stepResults.batchId, batchId), eq(stepResults.status, "batched")))
    .orderBy(sql`${stepResults.id} collate "C"`);
}

/** The provider accepted the batch: its id is recorded, once (a second submit's id is not). */
export async function recordBatchSubmitted(db: Executor, id: string, providerBatchId: string): Promise<boolean> {
  const rows = await db
    .update(stepBatches)
    .set({ state: "submitted", providerBatchId, submittedAt: nowSql, polledAt: nowSql })
    .where(and(eq(stepBatches.id, id), eq(stepBatches.state, "submitting")))
    .returning({ id: stepBatches.id });
  return rows.length === 1;
}

/** A poll found the batch still running. */
export async function recordBatchPolled(db: Executor, id: string): Promise<void> {
  await db.update(stepBatches).set({ polledAt: nowSql }).where(eq(stepBatches.id, id));
}

/** The batch's end (`ended`, `cancelled`, `failed`), from an open state. */
export async function endStepBatch(
  db: Executor,
  id: string,
  state: Exclude<StepBatchState, "submitting" | "submitted">,
): Promise<void> {
  await db
    .update(stepBatches)
    .set({ state, endedAt: nowSql })
    .where(and(eq(stepBatches.id, id), inArray(stepBatches.state, ["submitting", "submitted"])));
}

/** Open batches the scheduler must act on: submits that did not finish, and submitted batches due a poll. */
export async function listBatchesDue(
  db: Executor,
  input: { pollEveryMs: number; resubmitAfterMs: number },
): Promise<StepBatchRow[]> {
  return db
    .select()
    .from(stepBatches)
    .where(
      sql`(${stepBatches.state} = 'submitted' and ${stepBatches.polledAt} < clock_timestamp() - make_interval(secs => ${input.pollEveryMs / 1000}))
       or (${stepBatches.state} = 'submitting' and ${stepBatches.createdAt} < clock_timestamp() - make_interval(secs => ${input.resubmitAfterMs / 1000}))`,
    )
    .limit(500);
}

/**
 * Takes a batched step of this batch to apply its result: `running` under a new lease token
 * (the fencing token its commit checks), only while it is still `batched` in this batch, so a
 * result is applied once and a cancelled or fallen-back step's result is dropped.
 */
export async function claimBatchedStep(
  db: Executor,
  input: { id: string; batchId: string; owner: string; leaseMs: number },
): Promise<StepResultRow | undefined> {
  const [row] = await db
    .update(stepResults)
    .set({
      status: "running",
      leaseToken: sql`${stepResults.leaseToken} + 1`,
      leaseOwner: input.owner,
      leaseExpiresAt: secondsFromNow(input.leaseMs),
    })
    .where(and(eq(stepResults.id, input.id), eq(stepResults.batchId, input.batchId), eq(stepResults.status, "batched")))
    .returning();
  return row;
}

/**
 * Batched steps sent to a synchronous call: back to `pending`, with why. Only those still
 * batched (in `batchId`, when given) move; returns them (each then needs its step job).
 */
export async function fallBackBatchedSteps(
  db: Executor,
  input: { ids: readonly string[]; reason: string; batchId?: string },
): Promise<StepResultRow[]> {
  if (input.ids.length === 0) return [];
  return db
    .update(stepResults)
    .set({ status: "pending", batchFallback: input.reason })
    .where(
      and(
        inArray(stepResults.id, [...input.ids]),
        eq(stepResults.status, "batched"),
        ...(input.batchId ? [eq(stepResults.batchId, input.batchId)] : []),
      ),
    )
    .returning();
}

/** Batched steps whose deadline (less their timeout) has come: they are called at once instead. */
export async function listBatchedStepsPastDeadline(db: Executor, limit = 500): Promise<StepResultRow[]> {
  return db
    .select()
    .from(stepResults)
    .where(and(eq(stepResults.status, "batched"), lt(stepResults.batchDeadlineAt, nowSql)))
    .limit(limit);
}
