import type { OrchestrationStepStatus } from "@ensemble/core";
import { and, asc, eq, gt, inArray, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { stepResults, usageLedger } from "../schema/tables.js";
import { newId } from "./ids.js";
import { sendStatement } from "./statements.js";

export type StepResultRow = typeof stepResults.$inferSelect;
export type NewStepInstance = Omit<typeof stepResults.$inferInsert, "id">;

const nowSql = sql`clock_timestamp()`;

export async function listRunSteps(db: Executor, flowId: string, run: number): Promise<StepResultRow[]> {
  return db
    .select()
    .from(stepResults)
    .where(and(eq(stepResults.flowId, flowId), eq(stepResults.run, run)))
    .orderBy(asc(stepResults.iteration), asc(stepResults.stepIndex));
}

/** The statuses and spend of a run's step instances, without their outputs (for status summaries). */
export async function listRunStepStatuses(
  db: Executor,
  flowId: string,
  run: number,
): Promise<Pick<StepResultRow, "status" | "spentCost" | "spentTokens">[]> {
  return db
    .select({ status: stepResults.status, spentCost: stepResults.spentCost, spentTokens: stepResults.spentTokens })
    .from(stepResults)
    .where(and(eq(stepResults.flowId, flowId), eq(stepResults.run, run)));
}

/** Where a page of a run's steps starts: after this instance, in (iteration, step index) order. */
export interface StepPageCursor {
  iteration: number;
  stepIndex: number;
}

/** At most `limit` of a run's step instances after `after`, in listRunSteps' order. */
export async function listRunStepsPage(
  db: Executor,
  flowId: string,
  run: number,
  after: StepPageCursor | null,
  limit: number,
): Promise<StepResultRow[]> {
  const afterCursor = after
    ? or(
        gt(stepResults.iteration, after.iteration),
        and(eq(stepResults.iteration, after.iteration), gt(stepResults.stepIndex, after.stepIndex)),
      )
    : undefined;
  return db
    .select()
    .from(stepResults)
    .where(and(eq(stepResults.flowId, flowId), eq(stepResults.run, run), afterCursor))
    .orderBy(asc(stepResults.iteration), asc(stepResults.stepIndex))
    .limit(limit);
}

/** Records step instances (dispatched, skipped, …); an instance already recorded is left as it is. */
export async function insertStepInstances(db: Executor, rows: NewStepInstance[]): Promise<StepResultRow[]> {
  if (rows.length === 0) return [];
  return db
    .insert(stepResults)
    .values(rows.map((row) => ({ id: newId(), ...row })))
    .onConflictDoNothing({ target: [stepResults.flowId, stepResults.run, stepResults.stepId, stepResults.iteration] })
    .returning();
}

/** Moves a failed instance to its next attempt. Guarded by the attempt number, so it happens once. */
export async function requeueStepAttempt(
  db: Executor,
  id: string,
  attempt: number,
  notBefore: Date | null,
): Promise<boolean> {
  const rows = await db
    .update(stepResults)
    .set({ status: "pending", attempt, notBefore, leaseOwner: null, leaseExpiresAt: null, completedAt: null })
    .where(and(eq(stepResults.id, id), eq(stepResults.status, "failed"), eq(stepResults.attempt, attempt - 1)))
    .returning({ id: stepResults.id });
  return rows.length === 1;
}

export interface ClaimStepInput {
  flowId: string;
  run: number;
  stepId: string;
  iteration: number;
  attempt: number;
  owner: string;
  leaseMs: number;
}

export async function findStepInstance(
  db: Executor,
  key: { flowId: string; run: number; stepId: string; iteration: number },
): Promise<StepResultRow | undefined> {
  const [row] = await db
    .select()
    .from(stepResults)
    .where(
      and(
        eq(stepResults.flowId, key.flowId),
        eq(stepResults.run, key.run),
        eq(stepResults.stepId, key.stepId),
        eq(stepResults.iteration, key.iteration),
      ),
    );
  return row;
}

/** A step lease a worker holds: the instance and the fencing token it was claimed with. */
export interface HeldStepLease {
  id: string;
  leaseToken: number;
}

/**
 * Extends every lease in `leases` by `leaseMs` from now, in one statement; returns the ids
 * still held. A lease missing from the answer was taken over or its step has ended: its
 * holder must stop and not commit (the fencing token would refuse it anyway).
 */
export async function renewStepLeases(
  db: Executor,
  leases: readonly HeldStepLease[],
  leaseMs: number,
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const rows = await sendStatement<{ id: string }>(db, RENEW_LEASES_STATEMENT, [
    JSON.stringify(leases),
    leaseMs / 1000,
  ]);
  return new Set(rows.map((r) => r.id));
}

const RENEW_LEASES_STATEMENT = `
  update step_results s set lease_expires_at = clock_timestamp() + make_interval(secs => $2::float8)
  from jsonb_to_recordset($1::jsonb) as held(id text, "leaseToken" int)
  where s.id = held.id and s.lease_token = held."leaseToken" and s.status = 'running'
  returning s.id`;

/**
 * Gives a claimed attempt back (status pending, no lease) without running it, e.g. when its
 * provider is over a rate limit: its job is delayed and claims it again. Fenced like a commit.
 */
export async function releaseStepClaim(db: Executor, id: string, leaseToken: number): Promise<boolean> {
  const rows = await db
    .update(stepResults)
    .set({ status: "pending", leaseOwner: null, leaseExpiresAt: null })
    .where(and(eq(stepResults.id, id), eq(stepResults.leaseToken, leaseToken), eq(stepResults.status, "running")))
    .returning({ id: stepResults.id });
  return rows.length === 1;
}

/**
 * Ends every open instance of a run (a waiting approval step, a batched step too) as
 * cancelled; returns them (the running ones to abort). A batched step's result, if its batch
 * still brings one, is then dropped (see claimBatchedStep).
 */
export async function cancelOpenSteps(db: Executor, flowId: string, run: number): Promise<StepResultRow[]> {
  const open = and(
    eq(stepResults.flowId, flowId),
    eq(stepResults.run, run),
    inArray(stepResults.status, ["pending", "running", "waiting", "batched"]),
  );
  // Locked in id order first (byte order, as JavaScript sorts), the order in which a batch of
  // step ends writes them (see StepEndCommitter): in the update's own scan order, a cancel racing a batch could lock
  // one instance while the batch held another, and deadlock.
  const locked = db
    .select({ id: stepResults.id })
    .from(stepResults)
    .where(open)
    .orderBy(sql`${stepResults.id} collate "C"`)
    .for("update");
  return db
    .update(stepResults)
    .set({ status: "cancelled", completedAt: nowSql, leaseExpiresAt: null })
    .where(and(open, inArray(stepResults.id, locked)))
    .returning();
}

export async function setStepStatus(db: Executor, id: string, status: OrchestrationStepStatus): Promise<void> {
  await db.update(stepResults).set({ status, completedAt: nowSql, leaseExpiresAt: null }).where(eq(stepResults.id, id));
}

/** Open instances whose lease ran out or that waited too long for a worker (the sweeper re-enqueues them). */
export async function listStaleSteps(db: Executor, olderThanMs: number, limit = 500): Promise<StepResultRow[]> {
  const cutoff = sql`${nowSql} - make_interval(secs => ${olderThanMs / 1000})`;
  return db
    .select()
    .from(stepResults)
    .where(
      or(
        and(eq(stepResults.status, "running"), lt(stepResults.leaseExpiresAt, nowSql)),
        and(
          eq(stepResults.status, "pending"),
          lt(sql`coalesce(${stepResults.notBefore}, ${stepResults.createdAt})`, cutoff),
        ),
      ),
    )
    .limit(limit);
}

export async function listLedger(db: Executor, flowId: string): Promise<(typeof usageLedger.$inferSelect)[]> {
  return db.select().from(usageLedger).where(eq(usageLedger.flowId, flowId)).orderBy(asc(usageLedger.createdAt));
}
