import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../client.js";
import { cutOffCalls, userLimits, usageLedger } from "../schema/tables.js";

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
 * The calls billed to a user over [from, to): the usage ledger's rows and the calls cut off
 * by a lost lease, as one relation. Each side is one range scan of its (user_id, created_at)
 * index; `cutOff` tells them apart.
 */
function billedCalls(db: Executor, userId: string, from: Date, to?: Date) {
  const ledger = db
    .select({
      createdAt: usageLedger.createdAt,
      flowId: usageLedger.flowId,
      provider: usageLedger.provider,
      model: usageLedger.model,
      cost: usageLedger.cost,
      promptTokens: usageLedger.promptTokens,
      completionTokens: usageLedger.completionTokens,
      cachedTokens: usageLedger.cachedTokens,
      reasoningTokens: usageLedger.reasoningTokens,
      cutOff: sql<boolean>`false`.as("cut_off"),
    })
    .from(usageLedger)
    .where(
      and(
        eq(usageLedger.userId, userId),
        gte(usageLedger.createdAt, from),
        to ? lt(usageLedger.createdAt, to) : undefined,
      ),
    );
  const cutOff = db
    .select({
      createdAt: cutOffCalls.createdAt,
      flowId: cutOffCalls.flowId,
      provider: cutOffCalls.provider,
      model: cutOffCalls.model,
      cost: cutOffCalls.cost,
      promptTokens: cutOffCalls.promptTokens,
      completionTokens: cutOffCalls.completionTokens,
      // Estimated from the request and the streamed text: no cache or reasoning figures.
      cachedTokens: sql<number>`0`.as("cached_tokens"),
      reasoningTokens: sql<number>`0`.as("reasoning_tokens"),
      cutOff: sql<boolean>`true`.as("cut_off"),
    })
    .from(cutOffCalls)
    .where(
      and(
        eq(cutOffCalls.userId, userId),
        gte(cutOffCalls.createdAt, from),
        to ? lt(cutOffCalls.createdAt, to) : undefined,
      ),
    );
  return ledger.unionAll(cutOff).as("billed");
}

/**
 * What a user has spent (USD, calls billed to them: the ledger's and those cut off by a lost
 * lease) since each instant: one statement over both, from the earliest, the others filtered
 * from it.
 */
export async function userSpendSince(db: Executor, userId: string, since: readonly Date[]): Promise<number[]> {
  if (since.length === 0) return [];
  const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
  const billed = billedCalls(db, userId, earliest);
  const sums = since.map(
    (d) => sql`coalesce(sum(${billed.cost}) filter (where ${billed.createdAt} >= ${d.toISOString()}), 0)`,
  );
  const [row] = await db
    .select({ sums: sql<(number | string)[]>`array[${sql.join(sums, sql`, `)}]::float8[]` })
    .from(billed);
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
  /** Billed calls: committed attempts (ledger rows) and calls cut off by a lost lease. */
  calls: number;
  /** Of `calls`, those cut off by a lost lease (their tokens and cost estimated). */
  cutOffCalls: number;
  /** Of `costUsd`, the estimated cost of the calls cut off by a lost lease. */
  cutOffCostUsd: number;
}

/** A user's billed calls over [from, to), grouped (ordered by key), or as one total when `groupBy` is absent. */
export async function userUsage(
  db: Executor,
  userId: string,
  from: Date,
  to: Date,
  groupBy?: UsageGroupBy,
): Promise<(UsageTotals & { key: string | null })[]> {
  const billed = billedCalls(db, userId, from, to);
  const groupKeys: Record<UsageGroupBy, SQL<string>> = {
    provider: sql<string>`${billed.provider}`,
    model: sql<string>`${billed.provider} || '/' || ${billed.model}`,
    flow: sql<string>`${billed.flowId}`,
    day: sql<string>`to_char(${billed.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`,
  };
  const key = groupBy ? groupKeys[groupBy] : sql<string | null>`null`;
  const rows = await db
    .select({
      key,
      costUsd: sql<number>`coalesce(sum(${billed.cost}), 0)::float8`,
      promptTokens: sql<string>`coalesce(sum(${billed.promptTokens}), 0)`,
      completionTokens: sql<string>`coalesce(sum(${billed.completionTokens}), 0)`,
      cachedTokens: sql<string>`coalesce(sum(${billed.cachedTokens}), 0)`,
      reasoningTokens: sql<string>`coalesce(sum(${billed.reasoningTokens}), 0)`,
      calls: sql<string>`count(*)`,
      cutOffCalls: sql<string>`count(*) filter (where ${billed.cutOff})`,
      cutOffCostUsd: sql<number>`coalesce(sum(${billed.cost}) filter (where ${billed.cutOff}), 0)::float8`,
    })
    .from(billed)
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
