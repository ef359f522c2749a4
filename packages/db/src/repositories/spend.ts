import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../client.js";
import { userLimits, usageLedger } from "../schema/tables.js";

export type UserLimitsRow = typeof userLimits.$inferSelect;
export type UserLimitsInput = Pick<UserLimitsRow, "monthlyUsd" | "dailyUsd" | "maxInFlightSteps">;

/** Sets a user's limits (null clears one). */
export async function upsertUserLimits(db: Executor, userId: string, limits: UserLimitsInput): Promise<UserLimitsRow> {
  const [row] = await db
    .insert(userLimits)
    .values({ userId, ...limits })
    .onConflictDoUpdate({ target: userLimits.userId, set: { ...limits, updatedAt: sql`now()` } })
    .returning();
  return row as UserLimitsRow;
}

export async function findUserLimits(db: Executor, userId: string): Promise<UserLimitsRow | undefined> {
  const [row] = await db.select().from(userLimits).where(eq(userLimits.userId, userId));
  return row;
}

/**
 * What a user has spent (USD, ledger rows billed to them) since each instant: one range
 * scan of `usage_ledger_user_time_idx` for the earliest, the others filtered from it.
 */
export async function userSpendSince(db: Executor, userId: string, since: readonly Date[]): Promise<number[]> {
  if (since.length === 0) return [];
  const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
  const sums = since.map(
    (d) => sql`coalesce(sum(${usageLedger.cost}) filter (where ${usageLedger.createdAt} >= ${d.toISOString()}), 0)`,
  );
  const [row] = await db
    .select({ sums: sql<(number | string)[]>`array[${sql.join(sums, sql`, `)}]::float8[]` })
    .from(usageLedger)
    .where(and(eq(usageLedger.userId, userId), gte(usageLedger.createdAt, earliest)));
  return (row?.sums ?? since.map(() => 0)).map(Number);
}

export type UsageGroupBy = "provider" | "model" | "flow" | "day";

/** One group of a usage report (or the total, without `key`). */
export interface UsageTotals {
  costUsd: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Ledger rows: billed attempts, and calls cut off by a lost lease. */
  calls: number;
  /** Of `calls`, those cut off by a lost lease (their tokens and cost estimated). */
  cutOffCalls: number;
  /** Of `costUsd`, the estimated cost of the calls cut off by a lost lease. */
  cutOffCostUsd: number;
}

const GROUP_KEYS: Record<UsageGroupBy, SQL<string>> = {
  provider: sql<string>`${usageLedger.provider}`,
  model: sql<string>`${usageLedger.provider} || '/' || ${usageLedger.model}`,
  flow: sql<string>`${usageLedger.flowId}`,
  day: sql<string>`to_char(${usageLedger.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`,
};

/** A user's ledger over [from, to), grouped (ordered by key), or as one total when `groupBy` is absent. */
export async function userUsage(
  db: Executor,
  userId: string,
  from: Date,
  to: Date,
  groupBy?: UsageGroupBy,
): Promise<(UsageTotals & { key: string | null })[]> {
  const key = groupBy ? GROUP_KEYS[groupBy] : sql<string | null>`null`;
  const rows = await db
    .select({
      key,
      costUsd: sql<number>`coalesce(sum(${usageLedger.cost}), 0)::float8`,
      promptTokens: sql<string>`coalesce(sum(${usageLedger.promptTokens}), 0)`,
      completionTokens: sql<string>`coalesce(sum(${usageLedger.completionTokens}), 0)`,
      cachedTokens: sql<string>`coalesce(sum(${usageLedger.cachedTokens}), 0)`,
      reasoningTokens: sql<string>`coalesce(sum(${usageLedger.reasoningTokens}), 0)`,
      calls: sql<string>`count(*)`,
      cutOffCalls: sql<string>`count(*) filter (where ${usageLedger.cutOffLeaseToken} is not null)`,
      cutOffCostUsd: sql<number>`coalesce(sum(${usageLedger.cost}) filter (where ${usageLedger.cutOffLeaseToken} is not null), 0)::float8`,
    })
    .from(usageLedger)
    .where(and(eq(usageLedger.userId, userId), gte(usageLedger.createdAt, from), lt(usageLedger.createdAt, to)))
    .groupBy(...(groupBy ? [key] : []))
    .orderBy(...(groupBy ? [key] : []));
  return rows.map((r) => ({
    key: r.key,
    costUsd: Number(r.costUsd),
    promptTokens: Number(r.promptTokens),
    completionTokens: Number(r.completionTokens),
    cachedTokens: Number(r.cachedTokens),
    reasoningTokens: Number(r.reasoningTokens),
    calls: Number(r.calls),
    cutOffCalls: Number(r.cutOffCalls),
    cutOffCostUsd: Number(r.cutOffCostUsd),
  }));
}
