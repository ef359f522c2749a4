import type { RateLimitDecision } from "./rate-limiter.js";

/** Remembered keys at most; past it the oldest is forgotten (it is then merely counted in Redis again). */
const MAX_KEYS = 10_000;

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
}
