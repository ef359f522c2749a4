/**
 * The API's abuse limits and per-key guards, with the defaults docs/api.md documents.
 * `src/env.ts` reads the configurable ones (MAX_BODY_BYTES, RATE_LIMIT_REQUESTS,
 * RATE_LIMIT_WINDOW_MS, IDEMPOTENCY_TTL_SECONDS).
 */
export interface RequestLimits {
  /** Largest JSON body accepted; larger is 413 `payload_too_large`. */
  bodyBytes: number;
  /** Requests per window per API key; 0 turns the limit off. */
  rateLimitRequests: number;
  rateLimitWindowMs: number;
  /** How long an Idempotency-Key's first answer is kept. */
  idempotencyTtlSeconds: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  bodyBytes: 1_048_576,
  // 1 000 requests a second per key: a guard against a runaway client, not a quota. The
  // 200-flow cluster test polls 200 statuses every 250 ms, at most 8 400 requests in 10 s
  // however fast the machine (measured here: ~400 per window).
  rateLimitRequests: 10_000,
  rateLimitWindowMs: 10_000,
  idempotencyTtlSeconds: 24 * 3_600,
};

/**
 * Nesting bound of any JSON body (objects and arrays). A create-flow body needs 6 levels,
 * execute metadata rarely more than a few; deeper payloads only cost recursion elsewhere
 * (serialization, JSONB) and are refused with 400 naming the path.
 */
export const MAX_JSON_DEPTH = 32;
