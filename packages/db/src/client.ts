import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { storableText } from "@ensemble/core";
import { sql, type ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type { Sql } from "postgres";
import { executeRows } from "./repositories/json-rows.js";
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
  /**
   * Runs `fn` in a transaction whose BEGIN travels with the first statement instead of
   * costing a round trip of its own (postgres.js: statements issued in the same tick
   * share one write), and whose COMMIT can travel with the last ones (`control.commitAfter`).
   * On the hot path a round trip is most of a step's cost.
   */
  transact<T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface TransactionControl {
  /**
   * Statements already sent with `sendStatement` that the transaction ends with: COMMIT goes
   * out right behind them, in the same write, instead of after their replies. If one of them
   * fails, the transaction is rolled back and `transact` throws its error.
   */
  commitAfter(...sent: Promise<unknown>[]): void;
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
    const url = options.url;
    const client = renewingPool((onclose) =>
      postgres(url, {
        max: options.maxConnections ?? 10,
        // Notices are not logged, and `debug` stays off: with it postgres.js makes an error's
        // `query` and `parameters` (a tenant's prompts and outputs) enumerable, so loggers print them.
        onnotice: () => undefined,
        onclose,
        connection: {
          application_name: options.applicationName ?? "ensemble",
          ...(options.asyncCommit ? { synchronous_commit: "off" } : {}),
        },
      }),
    );
    const db = drizzle(client, { schema }) as unknown as Database;
    const transact = async <T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T> => {
      const connection = preparing(await client.reserve());
      // A reserved connection shares the pool's options, but Drizzle looks for them on it.
      // (No schema: relational queries are not used in transactions, and it is costly to build.)
      const tx = drizzle(Object.assign(connection, { options: client.options })) as unknown as Database;
      const last: Promise<unknown>[] = [];
      const control: TransactionControl = {
        commitAfter: (...sent) => {
          for (const statement of sent) statement.catch(() => undefined); // awaited below, or moot after a rollback
          last.push(...sent);
        },
      };
      try {
        // Sent now, without waiting: it shares a write with the first statement of `fn`.
        const begun = connection.unsafe("begin").execute();
        begun.catch(() => undefined); // awaited below; if `fn` throws first, the rollback reports
        const result = await fn(tx, control);
        // Sent behind `last` (same connection, same order): their replies arrive first.
        const committing = connection.unsafe("commit").execute();
        committing.catch(() => undefined);
        await begun;
        for (const statement of last) await statement;
        // COMMIT in a failed transaction answers ROLLBACK rather than an error.
        const committed = await committing;
        if (committed.command !== "COMMIT") throw new Error(`transaction ended with ${committed.command}, not COMMIT`);
        return result;
      } catch (error) {
        await connection.unsafe("rollback").catch(() => undefined);
        throw error;
      } finally {
        connection.release();
      }
    };
    return { db, kind: "postgres", url, transact, close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const dataDir = options.dataDir ?? ".data/pglite";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = withStorableParams(await PGlite.create(dataDir));
  const transaction = client.transaction.bind(client);
  client.transaction = ((callback: (tx: Parameters<Parameters<typeof transaction>[0]>[0]) => Promise<unknown>) =>
    transaction((tx) => callback(withStorableParams(tx)))) as typeof client.transaction;
  const db = drizzle(client, { schema }) as unknown as Database;
  const transact = <T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      const last: Promise<unknown>[] = [];
      const result = await fn(tx, { commitAfter: (...sent) => void last.push(...sent) });
      await Promise.all(last);
      return result;
    });
  return { db, kind: "pglite", transact, close: () => client.close() };
}

/** How long connections must have stayed up after one closed before the pool is renewed. */
const POOL_RENEW_CALM_MS = 3_000;
/** How long the replaced pool's statements in flight may still take before it is torn down. */
const POOL_RETIRE_MS = 10_000;

/**
 * A postgres.js pool that replaces itself after connections closed (Postgres restarted or
 * went away), once they have stopped closing for POOL_RENEW_CALM_MS. Around a server
 * restart postgres.js left statements queued on a reserved connection, and reservations,
 * that never settled (a worker's transactions hung for good after Postgres came back);
 * patches/postgres@3.4.9.patch fails or serves those (tests/cluster's pool outage test).
 * Renewing is the backstop for driver state not seen yet: the old pool is ended, which
 * (patched) rejects what still waits for a connection, and destroys connections still
 * busy after POOL_RETIRE_MS, so that work fails and is retried on the new pool. A
 * connection reaching its max lifetime renews the pool too, which only costs reconnecting.
 *
 * The returned object stands for the current pool: Drizzle and `transact` hold it, and
 * every call goes to whichever pool is current.
 */
function renewingPool(create: (onclose: () => void) => Sql): Sql {
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const onclose = (): void => {
    if (ended) return;
    clearTimeout(timer);
    timer = setTimeout(renew, POOL_RENEW_CALM_MS);
    timer.unref();
  };
  const open = (): Sql => {
    const pool = preparing(create(onclose));
    // Drizzle sets its type parsers on the first pool's options (at `drizzle(...)`); later
    // pools take them over.
    if (current) {
      Object.assign(pool.options.parsers, current.options.parsers);
      Object.assign(pool.options.serializers, current.options.serializers);
    }
    return pool;
  };
  let current: Sql | undefined;
  current = open();
  const renew = (): void => {
    const retired = current!;
    current = open();
    retired.end({ timeout: POOL_RETIRE_MS / 1000 }).catch(() => undefined);
  };
  const end = async (options?: { timeout?: number }): Promise<void> => {
    ended = true;
    clearTimeout(timer);
    await current!.end(options);
  };
  return new Proxy(current, {
    get: (_target, property) => {
      if (property === "end") return end;
      const value = Reflect.get(current!, property) as unknown;
      return typeof value === "function" ? value.bind(current) : value;
    },
    apply: (_target, thisArg, args: unknown[]): unknown => Reflect.apply(current!, thisArg, args),
  });
}

/**
 * Longer statements are one-offs (a builder's batch of many rows, its text growing with
 * them): not worth a prepared statement per connection. The hand-written ones, whose rows
 * travel as one JSON parameter, stay below it (the batched step ends: ~7,200 characters).
 */
const MAX_PREPARED_STATEMENT_CHARS = 10_000;

/**
 * Drizzle sends every statement unprepared, and for an unprepared statement with parameters
 * postgres.js first sends Parse/Describe and waits for the parameter types before it can
 * bind: two round trips per statement, and the connection pipelines nothing meanwhile.
 * Prepared (named, cached per connection), a statement seen before is one Bind/Execute:
 * one round trip, pipelined with its neighbours, and Postgres skips parsing it again.
 * `?prepare=false` in the URL (e.g. behind a transaction-mode pooler) still turns it off.
 */
function preparing<C extends Sql>(client: C): C {
  const unsafe = client.unsafe.bind(client);
  client.unsafe = ((
    query: string,
    params: Parameters<Sql["unsafe"]>[1] = [],
    options: Parameters<Sql["unsafe"]>[2] = {},
  ) =>
    unsafe(query, storableParams(params), {
      ...options,
      prepare: params.length > 0 && query.length <= MAX_PREPARED_STATEMENT_CHARS,
    })) as C["unsafe"];
  return client;
}

/**
 * Every statement's text parameters pass here: a NUL (which Postgres cannot take in any
 * text) becomes U+FFFD, so a lookup by a hostile id finds nothing instead of failing.
 * Text that is stored was made storable where it entered (storableText); JSON parameters
 * carry NUL as the escape `\u0000`, which only that can fix.
 */
function storableParams<P extends readonly unknown[]>(params: P): P {
  return params.some((p) => typeof p === "string")
    ? (params.map((p) => (typeof p === "string" ? storableText(p) : p)) as unknown as P)
    : params;
}

/** storableParams for PGlite, whose statements (in a transaction too) go through `query`. */
function withStorableParams<C extends { query: (text: string, params?: unknown[], options?: never) => unknown }>(
  client: C,
): C {
  const query = client.query.bind(client);
  client.query = (text: string, params?: unknown[], options?: never) =>
    query(text, params && storableParams(params), options);
  return client;
}

/**
 * The migrations of this build that `handle`'s database has not applied yet (their tags, in
 * order). Drizzle records each applied migration with its journal time, and applies those
 * newer than the last it recorded; so does this count.
 */
export async function unappliedMigrations(handle: DatabaseHandle): Promise<string[]> {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
    entries: { tag: string; when: number }[];
  };
  const [table] = await executeRows<{ present: boolean }>(
    handle.db,
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`,
  );
  let last = -1;
  if (table?.present) {
    const [row] = await executeRows<{ last: string | number | null }>(
      handle.db,
      sql`select max(created_at) as last from drizzle.__drizzle_migrations`,
    );
    last = row?.last === null || row?.last === undefined ? -1 : Number(row.last);
  }
  return journal.entries.filter((entry) => entry.when > last).map((entry) => entry.tag);
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
