import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;
/** Either driver's database: postgres.js for a server, PGlite embedded. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** What a repository function runs on: the database or an open transaction. */
export type Executor = Database | Transaction;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  /** The server URL (postgres only). */
  url?: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; when unset, an embedded PGlite database under `dataDir`. */
  url?: string;
  /** PGlite's folder (default `.data/pglite`); `memory://` keeps it in memory. */
  dataDir?: string;
  /** Pool size per process (postgres.js; default 10). */
  maxConnections?: number;
  /**
   * Commit without waiting for the WAL flush (`synchronous_commit = off`). Only for
   * writes whose loss after a database crash is harmless, such as step leases: a
   * lost claim is re-claimed, and the fencing token still protects results.
   */
  asyncCommit?: boolean;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

const MIGRATION_LOCK_KEY = 727_001;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (options.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => undefined,
      connection: {
        application_name: options.applicationName ?? "ensemble",
        ...(options.asyncCommit ? { synchronous_commit: "off" } : {}),
      },
    });
    const db = drizzle(client, { schema }) as unknown as Database;
    return { db, kind: "postgres", url: options.url, close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const dataDir = options.dataDir ?? ".data/pglite";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzle(client, { schema }) as unknown as Database;
  return { db, kind: "pglite", close: () => client.close() };
}

/** Applies pending migrations (idempotent; safe to run at every start). */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === "postgres" && handle.url) {
    // One connection holding an advisory lock: processes starting together migrate one at a time.
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    const client = postgres(handle.url, { max: 1, onnotice: () => undefined });
    try {
      await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
      await client.end({ timeout: 5 });
    }
  } else {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(handle.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
  }
}
