import type { Executor } from "../client.js";
import type { SQL } from "drizzle-orm";

/** Rows of a raw statement, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
export async function executeRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as T[];
}

/** Column name → [property name, is a date]; the same few columns come back on every step. */
const KEYS = new Map<string, [string, boolean]>();

function propertyOf(column: string): [string, boolean] {
  let known = KEYS.get(column);
  if (!known) {
    const camel = column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    known = [camel, camel.endsWith("At")];
    if (KEYS.size < 1_000) KEYS.set(column, known);
  }
  return known;
}

/**
 * A row Postgres built with row_to_json (snake_case keys, dates as text) in the shape
 * Drizzle's typed selects return (camelCase keys, Date objects).
 */
export function fromJsonRow<T>(json: Record<string, unknown> | null | undefined): T | undefined {
  if (!json) return undefined;
  const out: Record<string, unknown> = {};
  for (const key in json) {
    const value = json[key];
    const [property, isDate] = propertyOf(key);
    out[property] = isDate && typeof value === "string" ? new Date(value) : value;
  }
  return out as T;
}
