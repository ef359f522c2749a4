import type { StepError } from "@ensemble/core";
import { findUserLimits, userSpendSince, type Database, type Executor, type UserLimitsRow } from "@ensemble/db";

/** The periods a spend cap counts over, in UTC: the calendar day and the calendar month. */
export type CapPeriod = "daily" | "monthly";

/** A cap a user's spend has reached. */
export interface ReachedCap {
  period: CapPeriod;
  capUsd: number;
  spentUsd: number;
  /** When the period ends and the cap allows spending again. */
  resetsAt: Date;
}

/** The user's spend reached a cap: executes answer 402 `budget_exceeded`, scheduled firings are skipped. */
export class SpendCapReachedError extends Error {
  override readonly name = "SpendCapReachedError";
  constructor(readonly cap: ReachedCap) {
    super(capMessage(cap));
  }
}

export function capMessage(cap: ReachedCap): string {
  const field = cap.period === "daily" ? "dailyUsd" : "monthlyUsd";
  return `the ${cap.period} spend cap of $${cap.capUsd} (${field}) is reached: $${cap.spentUsd.toFixed(6)} spent this ${cap.period === "daily" ? "UTC day" : "UTC month"}; it resets at ${cap.resetsAt.toISOString()}`;
}

/** The step error that ends a running run of a user over a cap, as a run's own budget ends it. */
export function capStepError(cap: ReachedCap): StepError {
  return { code: "budget_exceeded", message: capMessage(cap), retryable: false };
}

/** The start and the end of the period containing `now`. */
export function capPeriod(period: CapPeriod, now: Date): { start: Date; end: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  if (period === "monthly") return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
  const d = now.getUTCDate();
  return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
}

/** How long the commit path trusts a user's limits row (a changed cap reaches running runs within this). */
const LIMITS_TTL_MS = 2_000;

/**
 * Spend caps per user, checked against the exactly-once ledger. A check is one primary-key
 * read of the limits (cached briefly on the commit path) and, for a user with a cap, one
 * range scan of the ledger's (user, time) index. Spend is not reserved: the check admits
 * while the sum is below the cap, so concurrent work overshoots it by at most what the
 * user's calls already in flight bill (each running run stops at its next commit).
 */
export class SpendCaps {
  private readonly cached = new Map<string, { limits: UserLimitsRow | undefined; until: number }>();

  constructor(private readonly db: Database) {}

  /** The first cap the user's spend (plus `pendingUsd`, billed but not yet committed) has reached; null if none. */
  async reached(
    userId: string,
    /** `db`: where to read; inside a transaction, the transaction (a pool read there can wait for a connection that never frees). */
    options: { pendingUsd?: number; cachedLimits?: boolean; now?: Date; db?: Executor } = {},
  ): Promise<ReachedCap | null> {
    const db = options.db ?? this.db;
    const limits = options.cachedLimits ? await this.cachedLimits(userId, db) : await findUserLimits(db, userId);
    const caps = capsOf(limits);
    if (caps.length === 0) return null;
    const now = options.now ?? new Date();
    const periods = caps.map((c) => capPeriod(c.period, now));
    const spent = await userSpendSince(
      db,
      userId,
      periods.map((p) => p.start),
    );
    for (const [i, cap] of caps.entries()) {
      const spentUsd = (spent[i] ?? 0) + (options.pendingUsd ?? 0);
      const period = periods[i] as { end: Date };
      if (spentUsd >= cap.capUsd) return { period: cap.period, capUsd: cap.capUsd, spentUsd, resetsAt: period.end };
    }
    return null;
  }

  /** The user's `maxInFlightSteps` (null: no cap), from limits cached briefly: a worker asks at each step's start. */
  async maxInFlightSteps(userId: string): Promise<number | null> {
    return (await this.cachedLimits(userId, this.db))?.maxInFlightSteps ?? null;
  }

  /** Throws SpendCapReachedError when the user has reached a cap (fresh limits: an admin's change applies at once). */
  async assertWithin(userId: string): Promise<void> {
    const cap = await this.reached(userId);
    if (cap) throw new SpendCapReachedError(cap);
  }

  private async cachedLimits(userId: string, db: Executor): Promise<UserLimitsRow | undefined> {
    const hit = this.cached.get(userId);
    if (hit && hit.until > Date.now()) return hit.limits;
    const limits = await findUserLimits(db, userId);
    if (this.cached.size > 10_000) this.cached.clear();
    this.cached.set(userId, { limits, until: Date.now() + LIMITS_TTL_MS });
    return limits;
  }
}

function capsOf(limits: UserLimitsRow | undefined): { period: CapPeriod; capUsd: number }[] {
  const caps: { period: CapPeriod; capUsd: number }[] = [];
  if (limits?.dailyUsd != null) caps.push({ period: "daily", capUsd: limits.dailyUsd });
  if (limits?.monthlyUsd != null) caps.push({ period: "monthly", capUsd: limits.monthlyUsd });
  return caps;
}
