import type { Redis } from "@ensemble/queue";
import { redisScript } from "./redis-script.js";

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window (and the count) resets. */
  resetMs: number;
}

// A fixed window per key that starts at the key's first request; Redis holds the count and
// the expiry, so every API process shares them and no process clock matters. One script:
// the count and its expiry are set together (a crash between them cannot leave a counter
// without expiry).
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`;

/** Requests per window per API key, counted in Redis (works across API processes). */
export class RateLimiter {
  private readonly hitScript: (key: string, windowMs: number) => Promise<unknown>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.hitScript = redisScript(redis, "ensembleRateLimitHitV1", 1, HIT_SCRIPT);
  }

  /** Counts one request of `apiKeyId` and says whether it is within the limit. */
  async hit(apiKeyId: string): Promise<RateLimitDecision> {
    const [count, ttl] = (await this.hitScript(`${this.prefix}:ratelimit:${apiKeyId}`, this.windowMs)) as [
      number,
      number,
    ];
    return {
      allowed: count <= this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - count),
      resetMs: ttl,
    };
  }
}
