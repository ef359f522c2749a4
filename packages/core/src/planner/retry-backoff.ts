/** Exponential backoff before retry `attempt` (1-based): 1 s, 2 s, 4 s … capped at 30 s; a vendor's Retry-After wins when longer. */
export const RETRY_BASE_DELAY_MS = 1_000;
export const RETRY_MAX_DELAY_MS = 30_000;

export function retryDelayMs(attempt: number, retryAfterMs?: number): number {
  const backoff = Math.min(RETRY_BASE_DELAY_MS * 2 ** Math.max(attempt - 1, 0), RETRY_MAX_DELAY_MS);
  return Math.max(backoff, retryAfterMs ?? 0);
}
