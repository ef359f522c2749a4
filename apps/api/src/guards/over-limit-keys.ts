import type { RateLimitDecision } from "./rate-limiter.js";

/** Remembered keys at most; past it the oldest is forgotten (it is then merely counted in Redis again). */
const MAX_KEYS = 10_000;
/** Refusals held open per key at most; past it a key's refusals are answered at once. */
export const MAX_HELD_PER_KEY = 32;
/** The longest a refusal is held: a longer window is still told its Retry-After. */
export const MAX_HOLD_MS = 1_000;

/**
 * API keys this process has seen go over their rate limit, until their window resets.
 * A key over its limit stays over it until then (the count only grows), so its next
 * requests can be refused before any work: no key lookup in Postgres, no script in
 * Redis. Without this a flooding key's refused requests cost nearly what answered ones
 * do, and every other key's requests wait behind them on the event loop. Keys are held
 * by their SHA-256 (as stored), never as the secret.
 */
export class OverLimitKeys {
  private readonly resetAt = new Map<string, { at: number; limit: number }>();
  private readonly held = new Map<string, number>();

  remember(keyHash: string, decision: RateLimitDecision, now = Date.now()): void {
    this.resetAt.delete(keyHash);
    if (this.resetAt.size >= MAX_KEYS) this.resetAt.delete(this.resetAt.keys().next().value as string);
    this.resetAt.set(keyHash, { at: now + decision.resetMs, limit: decision.limit });
  }

  /** The refusal to answer with, while the key's window has not reset. */
  refusal(keyHash: string, now = Date.now()): RateLimitDecision | null {
    const entry = this.resetAt.get(keyHash);
    if (!entry) return null;
    if (entry.at <= now) {
      this.resetAt.delete(keyHash);
      return null;
    }
    return { allowed: false, limit: entry.limit, remaining: 0, resetMs: entry.at - now };
  }

  /**
   * How long to hold this refusal before answering it (0: answer at once). A client that
   * keeps N requests in flight and retries as soon as it is refused would otherwise be
   * answered as fast as the event loop turns, and every other key's requests would queue
   * behind its refusals; held until the key may try again (at most MAX_HOLD_MS), such a
   * client sends N requests per hold instead. A client that honours Retry-After is not
   * slowed: it would have waited that long anyway. Call `release` when the answer is sent.
   */
  hold(keyHash: string, refusal: RateLimitDecision): number {
    const held = this.held.get(keyHash) ?? 0;
    if (held >= MAX_HELD_PER_KEY) return 0;
    this.held.set(keyHash, held + 1);
    return Math.min(refusal.resetMs, MAX_HOLD_MS);
  }

  release(keyHash: string): void {
    const held = (this.held.get(keyHash) ?? 1) - 1;
    if (held > 0) this.held.set(keyHash, held);
    else this.held.delete(keyHash);
  }
}
