import { RE2JS } from "re2js";

/**
 * CEL's `matches` with RE2 semantics (as the CEL spec defines it): matching time is
 * linear in the text, so a pattern such as `^(a+)+$` cannot backtrack for seconds the
 * way JavaScript's RegExp does. No backreferences or lookaround: RE2 has none.
 */

const compiled = new Map<string, RE2JS>();
/** Compiling costs up to tens of ms (`a{1000}`); patterns are few per flow, and the cap keeps a hostile flow from growing the cache. */
const MAX_CACHED_PATTERNS = 256;

function compileRe2(pattern: string): RE2JS {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = RE2JS.compile(pattern);
    if (compiled.size >= MAX_CACHED_PATTERNS) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

/** Why a pattern is not RE2, or null when it is. */
export function re2PatternError(pattern: string): string | null {
  try {
    compileRe2(pattern);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Whether `pattern` matches anywhere in `text`. Throws on a pattern that is not RE2. */
export function re2Matches(text: string, pattern: string): boolean {
  return compileRe2(pattern).matcher(text).find();
}
