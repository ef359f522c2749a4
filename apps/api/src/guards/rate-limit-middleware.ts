import { isRedisUnavailable } from "@ensemble/queue";
import type { RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { bearerToken, hashApiKey } from "../auth/api-keys.js";
import { ApiError } from "../http/api-error.js";
import type { OverLimitKeys } from "./over-limit-keys.js";
import type { RateLimitDecision, RateLimiter } from "./rate-limiter.js";

/** At most one "rate limit skipped" warning per this many ms while Redis is down. */
const WARN_EVERY_MS = 10_000;

/**
 * Per-API-key rate limit for authenticated routes (after `authenticate`). Every answer
 * carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and
 * `RateLimit-Policy`; a refused request is 429 `rate_limited` with `Retry-After`.
 * While Redis is unreachable requests pass (fail open): reads need only Postgres, and
 * routes that need Redis answer 503 themselves.
 */
export function rateLimit(limiter: RateLimiter, overLimit: OverLimitKeys, logger: Logger): RequestHandler {
  let lastWarning = 0;
  return async (req, res, next) => {
    if (!req.apiKeyId) {
      next();
      return;
    }
    let decision: RateLimitDecision;
    try {
      decision = await limiter.hit(req.apiKeyId);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      if (Date.now() - lastWarning > WARN_EVERY_MS) {
        lastWarning = Date.now();
        logger.warn({ err }, "rate limit skipped: Redis unavailable");
      }
      next();
      return;
    }
    if (!decision.allowed) {
      const token = bearerToken(req.headers.authorization);
      if (token) overLimit.remember(hashApiKey(token), decision);
    }
    answer(res, decision, limiter.windowMs);
    next();
  };
}

/**
 * Before `authenticate`: a key this process already saw over its limit is refused at
 * once, with the same 429 and headers, until its window resets (see OverLimitKeys).
 */
export function refuseOverLimitKeys(overLimit: OverLimitKeys, windowMs: number): RequestHandler {
  return (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    const decision = token ? overLimit.refusal(hashApiKey(token)) : null;
    if (decision) answer(res, decision, windowMs);
    next();
  };
}

/** Sets the RateLimit-* headers; throws the 429 when the decision refuses. */
function answer(res: Response, decision: RateLimitDecision, windowMs: number): void {
  const resetSeconds = Math.max(1, Math.ceil(decision.resetMs / 1000));
  setRateLimitHeaders(res, decision, resetSeconds, windowMs);
  if (!decision.allowed) {
    throw new ApiError("rate_limited", `too many requests for this API key; retry in ${resetSeconds} s`, [{ limit: decision.limit, windowMs, retryAfterSeconds: resetSeconds }], {
      "Retry-After": String(resetSeconds),
    });
  }
}

function setRateLimitHeaders(res: Response, decision: RateLimitDecision, resetSeconds: number, windowMs: number): void {
  res.set({
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(resetSeconds),
    "RateLimit-Policy": `${decision.limit};w=${Math.ceil(windowMs / 1000)}`,
  });
}
