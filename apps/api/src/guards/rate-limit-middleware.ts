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
    // Refused, or allowed with nothing left: until the key may send its next request,
    // refuse it from memory (Redis would refuse it too).
    if (decision.retryAfterMs > 0) {
      const token = bearerToken(req.headers.authorization);
      if (token) overLimit.remember(hashApiKey(token), decision);
    }
    answer(res, decision, limiter.windowMs);
    next();
  };
}

/**
 * Before `authenticate`: a key this process already saw over its limit is refused with
 * the same 429 and headers, until it may try again, without a key lookup or a Redis
 * call (see OverLimitKeys). The refusal is held until the key may try again, paced one
 * interval apart (at most MAX_HOLD_MS, a bounded number per key), so a client retrying
 * in a loop cannot keep the event loop busy with refusals while other keys wait.
 */
export function refuseOverLimitKeys(overLimit: OverLimitKeys, windowMs: number): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    const keyHash = token ? hashApiKey(token) : null;
    const refusal = keyHash ? overLimit.refusal(keyHash) : null;
    if (!keyHash || !refusal) {
      next();
      return;
    }
    const holdMs = overLimit.hold(keyHash, refusal);
    if (holdMs > 0) {
      try {
        await heldFor(holdMs, res);
      } finally {
        overLimit.release(keyHash);
      }
    }
    // Whatever was held, the headers tell the time left now.
    answer(res, overLimit.refusal(keyHash) ?? { ...refusal, retryAfterMs: 0 }, windowMs);
    next();
  };
}

/** Resolves after `ms`, or as soon as the client goes away (its answer would go nowhere). */
function heldFor(ms: number, res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once("close", done);
  });
}

/** Sets the RateLimit-* headers; throws the 429 when the decision refuses. */
function answer(res: Response, decision: RateLimitDecision, windowMs: number): void {
  setRateLimitHeaders(res, decision, Math.ceil(decision.resetMs / 1000), windowMs);
  if (!decision.allowed) {
    const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new ApiError(
      "rate_limited",
      `too many requests for this API key; retry in ${retryAfterSeconds} s`,
      [{ limit: decision.limit, windowMs, retryAfterSeconds }],
      { "Retry-After": String(retryAfterSeconds) },
    );
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
