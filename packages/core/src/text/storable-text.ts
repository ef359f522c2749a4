/** What an unstorable character becomes (U+FFFD, the Unicode replacement character). */
export const REPLACEMENT_CHARACTER = "\uFFFD";

declare global {
  // ES2024, in every Node this runs on (≥ 20); TypeScript's ES2023 lib does not declare them.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/**
 * `text` with every NUL and lone surrogate replaced by U+FFFD; the same string when it had
 * none. Postgres `text` cannot hold U+0000 and `jsonb` refuses the `\u0000` escape; a lone
 * UTF-16 surrogate is not Unicode at all (jsonb refuses its escape, UTF-8 encoders mangle it).
 */
export function storableText(text: string): string {
  // Two native scans in the common case, and no copy.
  if (!text.includes("\0") && text.isWellFormed()) return text;
  return text.toWellFormed().replaceAll("\0", REPLACEMENT_CHARACTER);
}

/**
 * A JSON value with storableText applied to every string in it, keys included, so that
 * it can be written to a `jsonb` column. Unchanged parts are returned as they were (no copy).
 * Recursive: only for values whose depth is bounded (the API caps bodies at 32 levels).
 */
export function storableJson<T>(value: T): T {
  return sanitizeValue(value) as T;
}

function sanitizeValue(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (value === null || typeof value !== "object" || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const clean = sanitizeValue(item);
      if (clean !== item) (copy ??= [...value])[i] = clean;
    });
    return copy ?? value;
  }
  let changed = false;
  const entries = Object.entries(value).map(([key, item]): [string, unknown] => {
    const cleanKey = storableText(key);
    const clean = sanitizeValue(item);
    if (cleanKey !== key || clean !== item) changed = true;
    return [cleanKey, clean];
  });
  // fromEntries defines own properties: a `__proto__` key stays a plain key, as JSON.parse left it.
  return changed ? Object.fromEntries(entries) : value;
}
