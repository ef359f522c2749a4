/** What an unstorable character becomes (U+FFFD, the Unicode replacement character). */
export const REPLACEMENT_CHARACTER = "\uFFFD";

// Postgres `text` cannot hold U+0000 and `jsonb` refuses the `\u0000` escape; a lone UTF-16
// surrogate is not Unicode at all (jsonb refuses its escape, UTF-8 encoders mangle it). Code
// units, no `u` flag: a surrogate is lone when no partner stands on the side it needs one.
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_UNSTORABLE = /\0|[\uD800-\uDFFF]/;

/** `text` with every NUL and lone surrogate replaced by U+FFFD; the same string when it had none. */
export function storableText(text: string): string {
  if (!HAS_UNSTORABLE.test(text)) return text; // the common case: no copy, one scan
  return text.replace(UNSTORABLE, REPLACEMENT_CHARACTER);
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
