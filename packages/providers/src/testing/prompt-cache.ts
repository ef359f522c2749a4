/** The fake servers count 4 characters as a token, for prompts and cache prefixes alike. */
export const FAKE_CHARS_PER_TOKEN = 4;

/** The shortest prefix a vendor caches, in tokens (the fakes use the common 1,024 for every model). */
export const FAKE_MIN_CACHE_TOKENS = 1024;

/** OpenAI caches in 128-token increments past the minimum. */
export const OPENAI_CACHE_INCREMENT = 128;

/** How many prompts an automatic cache compares against (oldest forgotten first). */
const AUTOMATIC_CACHE_SIZE = 200;

export function fakeTokens(text: string): number {
  return Math.ceil(text.length / FAKE_CHARS_PER_TOKEN);
}

/**
 * Where a request may be cached, as its vendor decides it:
 * - `breakpoints` (Anthropic): the prompt up to each `cache_control` block, with the entry's lifetime;
 * - `automatic` (OpenAI, Gemini): the longest prefix shared with an earlier prompt under the same key
 *   (OpenAI's `prompt_cache_key`, routed with the model), rounded down to `increment` tokens.
 */
export type CachePlan =
  | { kind: "breakpoints"; breakpoints: { prefix: string; ttl: "5m" | "1h" }[] }
  | { kind: "automatic"; key: string; prompt: string; increment: number };

export interface CacheOutcome {
  /** Prompt tokens read from the cache. */
  read: number;
  /** Prompt tokens written to it (reported by Anthropic only). */
  write: number;
  /** Of `write`, those written as 1-hour entries. */
  write1h: number;
}

function commonPrefixLength(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * One fake server's prompt cache: entries never expire (a test runs well within 5 minutes), and a
 * prefix counts as cached once a request has written it, as at the vendors.
 */
export class FakePromptCache {
  private readonly entries = new Set<string>();
  private readonly prompts = new Map<string, string[]>();

  clear(): void {
    this.entries.clear();
    this.prompts.clear();
  }

  /** What the request reads from and writes to the cache; records what it writes. */
  apply(model: string, plan: CachePlan): CacheOutcome {
    return plan.kind === "breakpoints" ? this.breakpoints(model, plan.breakpoints) : this.automatic(model, plan);
  }

  private breakpoints(model: string, breakpoints: { prefix: string; ttl: "5m" | "1h" }[]): CacheOutcome {
    // A breakpoint whose prefix is too short is ignored, as Anthropic does (no error, no cache).
    const eligible = breakpoints.filter((b) => fakeTokens(b.prefix) >= FAKE_MIN_CACHE_TOKENS);
    let read = 0;
    for (const b of eligible) {
      if (this.entries.has(`${model}\n${b.prefix}`)) read = Math.max(read, fakeTokens(b.prefix));
    }
    const longest = eligible.reduce<(typeof eligible)[number] | undefined>(
      (best, b) => (best === undefined || b.prefix.length > best.prefix.length ? b : best),
      undefined,
    );
    for (const b of eligible) this.entries.add(`${model}\n${b.prefix}`);
    const write = longest ? Math.max(0, fakeTokens(longest.prefix) - read) : 0;
    return { read, write, write1h: longest?.ttl === "1h" ? write : 0 };
  }

  private automatic(model: string, plan: { key: string; prompt: string; increment: number }): CacheOutcome {
    const slot = `${model}\n${plan.key}`;
    const seen = this.prompts.get(slot) ?? [];
    let shared = 0;
    for (const earlier of seen) shared = Math.max(shared, commonPrefixLength(earlier, plan.prompt));
    seen.push(plan.prompt);
    if (seen.length > AUTOMATIC_CACHE_SIZE) seen.shift();
    this.prompts.set(slot, seen);
    const tokens = Math.floor(shared / FAKE_CHARS_PER_TOKEN);
    const read = tokens >= FAKE_MIN_CACHE_TOKENS ? Math.floor(tokens / plan.increment) * plan.increment : 0;
    return { read, write: 0, write1h: 0 };
  }
}
