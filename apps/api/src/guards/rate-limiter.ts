import type { Redis } from "@ensemble/queue";
import { redisScript } from "./redis-script.js";

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the key has its whole allowance (`limit` requests) again. */
  resetMs: number;
  /** Milliseconds until the key's next request can be allowed (0: at once). Also set on an allowed decision that used up the allowance. */
  retryAfterMs: number;
  /** The steady pace a key at its limit is held to: one request per this many ms. */
  intervalMs: number;
}

// GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): a key may
// send `limit` requests at once, and after that one request per `window / limit` ms.
// A fixed window would let a flooding key's whole allowance through as one burst at the
// start of each window, and every other key's requests wait behind that burst; GCRA
// spreads it out. Redis holds the key's "theoretical arrival time" and its clock is the
// only one read, so every API process shares the allowance and no process clock matters.
const HIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nextTat = tat + interval
local allowAt = nextTat - window
if now < allowAt then
  return { 0, 0, tostring(tat - now), tostring(allowAt - now) }
end
redis.call('SET', KEYS[1], tostring(nextTat), 'PX', math.ceil(nextTat - now))
local nextAllowIn = nextTat + interval - window - now
if nextAllowIn < 0 then nextAllowIn = 0 end
return { 1, math.floor((window - (nextTat - now)) / interval + 1e-6), tostring(nextTat - now), tostring(nextAllowIn) }
`;

/** Requests per window per API key, paced by GCRA in Redis (shared by every API process). */
export class RateLimiter {
  private readonly hitScript: (key: string, intervalMs: number, windowMs: number) => Promise<unknown>;
  private readonly intervalMs: number;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.intervalMs = windowMs / limit;
    this.hitScript = redisScript(redis, "ensembleRateLimitGcraV1", 1, HIT_SCRIPT);
  }

  /** Counts one request of `apiKeyId` and says whether it is within the limit. */
  async hit(apiKeyId: string): Promise<RateLimitDecision> {
    const [allowed, remaining, resetMs, retryAfterMs] = (await this.hitScript(
      `${this.prefix}:ratelimit:${apiKeyId}`,
      this.intervalMs,
      this.windowMs,
    )) as [number, number, string, string];
    return {
      allowed: allowed === 1,
      limit: this.limit,
      remaining,
      resetMs: Math.ceil(Number(resetMs)),
      retryAfterMs: Math.ceil(Number(retryAfterMs)),
      intervalMs: this.intervalMs,
    };
  }
}
