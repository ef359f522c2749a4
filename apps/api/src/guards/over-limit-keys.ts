import type { RateLimitDecision } from "./rate-limiter.js";

/** Remembered keys at most; past it the oldest is forgotten (it is then merely counted in Redis again). */
const MAX_KEYS = 10_000;
/** Refusals held open per key at most; past it a key's refusals are answered at once. */
export const MAX_HELD_PER_KEY = 32;
/** The longest a refusal is held: a longer window is still told its Retry-After. */
export const MAX_HOLD_MS = 1_000;

/**
 * API keys this process has seen go over their rate limit, until they may try again.
 * Until then Redis would refuse them too, so their next requests can be refused before
 * any work: no key lookup in Postgres, no script in Redis. Without this a flooding key's
 * refused requests cost nearly what answered ones do, and every other key's requests
 * wait behind them on the event loop. Keys are held by their SHA-256 (as stored), never
 * as the secret.
 */
export class OverLimitKeys {
  private readonly refused = new Map<string, { retryAt: number; resetAt: number; limit: number; intervalMs: number }>();
  private readonly held = new Map<string, number>();

  remember(keyHash: string, decision: RateLimitDecision, now = Date.now()): void {
    this.refused.delete(keyHash);
    if (this.refused.size >= MAX_KEYS) this.refused.delete(this.refused.keys().next().value as string);
    this.refused.set(keyHash, {
      retryAt: now + decision.retryAfterMs,
      resetAt: now + decision.resetMs,
      limit: decision.limit,
      intervalMs: decision.intervalMs,
    });
  }

  /** The refusal to answer with, while the key may not try again yet. */
  refusal(keyHash: string, now = Date.now()): RateLimitDecision | null {
    const entry = this.refused.get(keyHash);
    if (!entry) return null;
    if (entry.retryAt <= now) {
      this.refused.delete(keyHash);
      return null;
    }
    return {
      allowed: false,
      limit: entry.limit,
      remaining: 0,
      resetMs: Math.max(entry.resetAt, entry.retryAt) - now,
      retryAfterMs: entry.retryAt - now,
      intervalMs: entry.intervalMs,
    };
  }

  /**
   * How long to hold this refusal before answering it (0: answer at once). A client that
   * keeps N requests in flight and retries as soon as it is refused would otherwise be
   * answered as fast as the event loop turns, and every other key's requests would queue
   * behind its refusals. Each held refusal is answered when the key may send one more
   * request, one pacing interval after the refusal held before it, so such a client's
   * retries arrive one at a time at the pace its limit allows instead of all at once
   * (at most MAX_HOLD_MS). A client that honours Retry-After is not slowed: it would have
   * waited that long anyway. Call `release` when the answer is sent.
   */
  hold(keyHash: string, refusal: RateLimitDecision): number {
    const held = this.held.get(keyHash) ?? 0;
    if (held >= MAX_HELD_PER_KEY) return 0;
    this.held.set(keyHash, held + 1);
    return Math.min(refusal.retryAfterMs + held * refusal.intervalMs, MAX_HOLD_MS);
  }

  release(keyHash: string): void {
    const held = (this.held.get(keyHash) ?? 1) - 1;
    if (held > 0) this.held.set(keyHash, held);
    else this.held.delete(keyHash);
  }
}
