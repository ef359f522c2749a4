import type { Executor } from "../client.js";
import { getTableColumns, type SQL } from "drizzle-orm";
import { PgTimestamp, type PgTable } from "drizzle-orm/pg-core";

/** Rows of a raw statement, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
export async function executeRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as T[];
}

/** How one column of a table comes back from row_to_json: its property name, and how its JSON value decodes. */
interface ColumnDecoder {
  property: string;
  decode: (value: unknown) => unknown;
}

const asIs = (value: unknown) => value;

/**
 * row_to_json gives every column as JSON: numbers, booleans and jsonb as Drizzle's typed
 * select gives them, timestamps as text. The table's own column definitions say which
 * is which, so a column is decoded by its type, never by its name.
 */
const decoders = new WeakMap<PgTable, Map<string, ColumnDecoder>>();

function decodersOf(table: PgTable): Map<string, ColumnDecoder> {
  let byColumn = decoders.get(table);
  if (!byColumn) {
    byColumn = new Map();
    for (const [property, column] of Object.entries(getTableColumns(table))) {
      const decode =
        column instanceof PgTimestamp
          ? (value: unknown) => (typeof value === "string" ? column.mapFromDriverValue(value) : value)
          : asIs;
      byColumn.set(column.name, { property, decode });
    }
    decoders.set(table, byColumn);
  }
  return byColumn;
}

function decodeRow<T extends PgTable>(table: T, json: Record<string, unknown>): T["$inferSelect"] {
  const byColumn = decodersOf(table);
  const row: Record<string, unknown> = {};
  for (const key in json) {
    const column = byColumn.get(key);
    if (!column) throw new Error(`row_to_json gave column "${key}", which the table does not define`);
    row[column.property] = column.decode(json[key]);
  }
  return row;
}

/**
 * A row of `table` that Postgres built with row_to_json (column names, dates as text), in
 * the shape Drizzle's typed select returns (property names, Date objects). A column the
 * table does not define is an error: the statement and the schema disagree.
 */
export function fromJsonRow<T extends PgTable>(
  table: T,
  json: Record<string, unknown> | null | undefined,
): T["$inferSelect"] | undefined {
  return json ? decodeRow(table, json) : undefined;
}

/** Every row of a json_agg of `table`'s rows (see fromJsonRow). */
export function fromJsonRows<T extends PgTable>(
  table: T,
  json: Record<string, unknown>[] | null | undefined,
): T["$inferSelect"][] {
  return (json ?? []).map((row) => decodeRow(table, row));
}
