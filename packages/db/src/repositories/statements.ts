import { sql, type SQL } from "drizzle-orm";
import type { Executor } from "../client.js";
import { executeRows } from "./json-rows.js";

/** What a postgres.js client (the pool or a reserved connection) offers for a hand-written statement. */
interface PostgresJsClient {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown[]> & { execute(): unknown };
}

function postgresJsClient(db: Executor): PostgresJsClient | undefined {
  const client = (db as { $client?: { unsafe?: unknown } }).$client;
  // A postgres.js pool or reserved connection; PGlite's client has no `unsafe`.
  return client && typeof client.unsafe === "function" ? (client as PostgresJsClient) : undefined;
}

/**
 * Sends a hand-written statement (`$1`, `$2`… placeholders) at once, without Drizzle's
 * builder: on postgres.js as a prepared statement, so a repeated one is a single
 * Bind/Execute. Statements sent one after another on a connection run in that order,
 * which is what lets a transaction's COMMIT follow in the same write (see
 * `TransactionControl.commitAfter`). On PGlite it runs through Drizzle.
 */
export function sendStatement<T>(db: Executor, text: string, params: readonly unknown[]): Promise<T[]> {
  const client = postgresJsClient(db);
  if (!client) return executeRows<T>(db, toSql(text, params));
  const query = client.unsafe(text, [...params], { prepare: true });
  query.execute();
  return query as Promise<T[]>;
}

/** A hand-written statement whose parameters go by name rather than by position. */
export interface NamedStatement<N extends string> {
  /** The SQL, each name's placeholder a `$n` (constant: it is prepared once per connection). */
  text: string;
  /** The parameter values in placeholder order. */
  values(args: Readonly<Record<N, unknown>>): unknown[];
}

/**
 * Writes a statement with named parameters: `sql` gets each name's placeholder, and
 * `values` orders an object of values to match, so neither the SQL nor its caller counts
 * positions. `sendStatement(db, s.text, s.values({ … }))`.
 */
export function namedStatement<N extends string>(
  names: readonly N[],
  sql: (p: Readonly<Record<N, string>>) => string,
): NamedStatement<N> {
  const placeholders = Object.fromEntries(names.map((name, i) => [name, `$${i + 1}`])) as Record<N, string>;
  return { text: sql(placeholders), values: (args) => names.map((name) => args[name]) };
}

/** The same statement for Drizzle: each `$n` becomes a bound parameter. */
function toSql(text: string, params: readonly unknown[]): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  parts.forEach((part, i) => chunks.push(i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`));
  return sql.join(chunks);
}
