/** A batch step waits at most this long for its batch unless it sets `batchDeadline`: the vendors' completion window. */
export const DEFAULT_BATCH_DEADLINE_MS = 24 * 60 * 60 * 1000;

/** The providers whose adapters have a batch API (half price, answered within 24 hours). */
export const BATCH_PROVIDERS: readonly string[] = ["openai", "anthropic"];

export function hasBatchApi(provider: string): boolean {
  return BATCH_PROVIDERS.includes(provider);
}

// PnDTnHnMnS with whole or decimal numbers; years and months are left out (their length varies).
const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

/**
 * A `batchDeadline` in milliseconds: a number of ms, or an ISO 8601 duration in weeks, days,
 * hours, minutes and seconds ("PT6H", "P1DT30M"). Null when it is neither, or not positive.
 */
export function parseBatchDeadline(value: number | string): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : null;
  const match = ISO_DURATION.exec(value.trim().toUpperCase());
  if (!match || value.trim().toUpperCase().endsWith("T")) return null;
  const parts = match.slice(1);
  if (parts.every((part) => part === undefined)) return null;
  const ms = parts.reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * (UNIT_MS[i] ?? 0)), 0);
  const rounded = Math.round(ms);
  return rounded > 0 && Number.isSafeInteger(rounded) ? rounded : null;
}
