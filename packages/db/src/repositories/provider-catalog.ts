import { eq, gt, lt, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { providers, providerWorkers } from "../schema/tables.js";

/** How often a worker renews its entry in the provider catalog. */
export const PROVIDER_HEARTBEAT_MS = 10_000;
/** A worker is live while its last heartbeat is younger than this: three missed heartbeats and it is not. */
export const PROVIDER_WORKER_LIVE_MS = 3 * PROVIDER_HEARTBEAT_MS;

/** One provider as a worker serves it. */
export interface ServedProvider {
  key: string;
  /** The models it allows; null: any model. */
  models: string[] | null;
  /** Its rate limits (PROVIDER_RATE_LIMITS entries for it); empty: none. */
  limits: Record<string, unknown>;
}

/** A provider of the catalog with its live workers. */
export interface CatalogProvider extends ServedProvider {
  liveWorkers: { workerId: string; startedAt: Date; heartbeatAt: Date }[];
  lastSeenAt: Date;
}

/** Heartbeats newer than this many ms, on the database's clock. */
const newerThan = (column: typeof providerWorkers.heartbeatAt, ms: number) =>
  gt(column, sql`now() - ${ms} * interval '1 millisecond'`);

/**
 * Records that `workerId` serves these providers, now (its heartbeat: call it again to stay
 * live). Idempotent; the provider rows take the worker's models and limits.
 */
export async function registerProviderWorker(
  db: Executor,
  workerId: string,
  served: readonly ServedProvider[],
): Promise<void> {
  if (served.length === 0) return;
  await db
    .insert(providers)
    .values(served.map((p) => ({ key: p.key, models: p.models, limits: p.limits })))
    .onConflictDoUpdate({
      target: providers.key,
      set: { models: sql`excluded.models`, limits: sql`excluded.limits`, lastSeenAt: sql`now()` },
    });
  await db
    .insert(providerWorkers)
    .values(served.map((p) => ({ workerId, provider: p.key, models: p.models })))
    .onConflictDoUpdate({
      target: [providerWorkers.workerId, providerWorkers.provider],
      set: { models: sql`excluded.models`, heartbeatAt: sql`now()` },
    });
}

/** A worker that stops: it no longer counts as live (its providers stay known). */
export async function removeProviderWorker(db: Executor, workerId: string): Promise<void> {
  await db.delete(providerWorkers).where(eq(providerWorkers.workerId, workerId));
}

/** Forgets workers whose last heartbeat is older than `olderThanMs` (dead without saying so). */
export async function pruneProviderWorkers(db: Executor, olderThanMs: number): Promise<void> {
  await db
    .delete(providerWorkers)
    .where(lt(providerWorkers.heartbeatAt, sql`now() - ${olderThanMs} * interval '1 millisecond'`));
}

/** Every known provider (sorted by key), with the workers whose heartbeat is within `liveWithinMs`. */
export async function listProviderCatalog(
  db: Executor,
  liveWithinMs = PROVIDER_WORKER_LIVE_MS,
): Promise<CatalogProvider[]> {
  const [rows, live] = await Promise.all([
    db.select().from(providers).orderBy(providers.key),
    db
      .select()
      .from(providerWorkers)
      .where(newerThan(providerWorkers.heartbeatAt, liveWithinMs))
      .orderBy(providerWorkers.workerId),
  ]);
  return rows.map((p) => ({
    key: p.key,
    models: p.models,
    limits: p.limits,
    lastSeenAt: p.lastSeenAt,
    liveWorkers: live
      .filter((w) => w.provider === p.key)
      .map((w) => ({ workerId: w.workerId, startedAt: w.startedAt, heartbeatAt: w.heartbeatAt })),
  }));
}

/** Every known provider's key and model allowlist (null: any model), live or not. */
export async function listKnownProviders(db: Executor): Promise<Map<string, string[] | null>> {
  const rows = await db.select({ key: providers.key, models: providers.models }).from(providers);
  return new Map(rows.map((r) => [r.key, r.models]));
}
