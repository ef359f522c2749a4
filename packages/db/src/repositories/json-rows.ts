import type { Executor } from "../client.js";
import type { SQL } from "drizzle-orm";

/** Rows of a raw statement, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
export async function executeRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as T[];
}

const DATE_KEYS = /At$/;

/**
 * A row Postgres built with row_to_json (snake_case keys, dates as text) in the shape
 * Drizzle's typed selects return (camelCase keys, Date objects).
 */
export function fromJsonRow<T>(json: Record<string, unknown> | null | undefined): T | undefined {
  if (!json) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[camel] = DATE_KEYS.test(camel) && typeof value === "string" ? new Date(value) : value;
  }
  return out as T;
}
