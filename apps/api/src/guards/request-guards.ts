import type { Redis } from "@ensemble/queue";
import { Router } from "express";
import type { Logger } from "pino";
import type { RequestLimits } from "../http/request-limits.js";
import { IdempotencyStore } from "./idempotency-store.js";
import { KeyConcurrency, limitKeyConcurrency } from "./key-concurrency.js";
import { OverLimitKeys } from "./over-limit-keys.js";
import { rateLimit, refuseOverLimitKeys } from "./rate-limit-middleware.js";
import { RateLimiter } from "./rate-limiter.js";
import { StreamSlots } from "./stream-slots.js";

/** The API's request limits and the Redis-backed guards that enforce the per-key ones. */
export interface RequestGuards {
  limits: RequestLimits;
  /** Null when the limit is off (RATE_LIMIT_REQUESTS=0). */
  rateLimiter: RateLimiter | null;
  /** Keys this process saw over their limit, refused before authentication until they may try again. */
  overLimitKeys: OverLimitKeys;
  idempotency: IdempotencyStore;
  /** Null when the limit is off (MAX_STREAMS_PER_KEY=0). */
  streamSlots: StreamSlots | null;
  /** Null when the limit is off (REQUESTS_IN_FLIGHT_PER_KEY=0). */
  keyConcurrency: KeyConcurrency | null;
}

/** `redis` should be a fail-fast (`producer`) connection; keys live under `prefix` (QUEUE_PREFIX). */
export function createRequestGuards(redis: Redis, prefix: string, limits: RequestLimits): RequestGuards {
  return {
    limits,
    rateLimiter:
      limits.rateLimitRequests > 0
        ? new RateLimiter(redis, prefix, limits.rateLimitRequests, limits.rateLimitWindowMs)
        : null,
    overLimitKeys: new OverLimitKeys(),
    idempotency: new IdempotencyStore(redis, prefix, limits.idempotencyTtlSeconds),
    streamSlots: limits.streamsPerKey > 0 ? new StreamSlots(redis, prefix, limits.streamsPerKey) : null,
    keyConcurrency: limits.requestsInFlightPerKey > 0 ? new KeyConcurrency(limits.requestsInFlightPerKey) : null,
  };
}

/**
 * Mount right before `authenticate`: refuses keys already known to be over their limit,
 * before any lookup, and lets each key run a bounded number of requests at once.
 */
export function knownOverLimitGuard(guards: RequestGuards): Router {
  const router = Router();
  if (guards.rateLimiter) router.use("/v1", refuseOverLimitKeys(guards.overLimitKeys, guards.rateLimiter.windowMs));
  if (guards.keyConcurrency) router.use("/v1", limitKeyConcurrency(guards.keyConcurrency));
  return router;
}

/**
 * The rate limit of the authenticated routes: mount right after `authenticate`. (Idempotency-Key
 * is per route: the registry's `idempotency`, mounted by mount-api-routes.ts.)
 */
export function perKeyGuards(guards: RequestGuards, logger: Logger): Router {
  const router = Router();
  if (guards.rateLimiter) router.use("/v1", rateLimit(guards.rateLimiter, guards.overLimitKeys, logger));
  return router;
}
