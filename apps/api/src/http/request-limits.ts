/**
 * The API's abuse limits and per-key guards, with the defaults docs/api.md documents.
 * `src/env.ts` reads the configurable ones (MAX_BODY_BYTES, RATE_LIMIT_REQUESTS,
 * RATE_LIMIT_WINDOW_MS, IDEMPOTENCY_TTL_SECONDS, MAX_STREAMS_PER_KEY,
 * REQUESTS_IN_FLIGHT_PER_KEY).
 */
export interface RequestLimits {
  /** Largest JSON body accepted; larger is 413 `payload_too_large`. */
  bodyBytes: number;
  /** Requests per window per API key; 0 turns the limit off. */
  rateLimitRequests: number;
  rateLimitWindowMs: number;
  /** How long an Idempotency-Key's first answer is kept. */
  idempotencyTtlSeconds: number;
  /** Open event streams (SSE + WebSocket) per API key, counted across API processes; 0 turns the limit off. */
  streamsPerKey: number;
  /** Requests of one API key that run at once in one API process (the rest wait their turn); 0 turns the limit off. */
  requestsInFlightPerKey: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  bodyBytes: 1_048_576,
  // 1 000 requests a second per key: a guard against a runaway client, not a quota. The
  // 200-flow cluster test polls 200 statuses every 250 ms, at most 8 400 requests in 10 s
  // however fast the machine (measured here: ~400 per window).
  rateLimitRequests: 10_000,
  rateLimitWindowMs: 10_000,
  idempotencyTtlSeconds: 24 * 3_600,
  // A dashboard or two per tenant, each following a few flows; a client that opens streams in
  // a loop (or never closes them) is stopped here instead of by the process's memory.
  streamsPerKey: 20,
  // Enough for a client's connection pool; a burst past it waits its turn instead of
  // delaying every other key's requests (docs/performance.md, the flood benchmark).
  requestsInFlightPerKey: 8,
};

/**
 * Nesting bound of any JSON body (objects and arrays). A create-flow body needs 6 levels,
 * execute metadata rarely more than a few; deeper payloads only cost recursion elsewhere
 * (serialization, JSONB) and are refused with 400 naming the path.
 */
export const MAX_JSON_DEPTH = 32;
