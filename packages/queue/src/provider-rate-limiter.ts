import type { Redis } from "ioredis";
import { z } from "zod";
import { DEFAULT_QUEUE_PREFIX } from "./queue-names.js";
import { defineRedisScript, type RedisScript } from "./redis-script.js";

/** One limit: a provider's (`openai`) or one model's (`openai:gpt-4o`). Unset fields do not limit. */
export const RateLimitSchema = z.strictObject({
  /** Calls started per window. */
  requestsPerMinute: z.number().int().positive().optional(),
  /** Tokens (prompt + completion, as the vendor reports them) per window. */
  tokensPerMinute: z.number().int().positive().optional(),
  /** Calls in flight at once, across every worker process. */
  maxConcurrent: z.number().int().positive().optional(),
});
export type RateLimit = z.infer<typeof RateLimitSchema>;

/** Keys are `provider` or `provider:model` (the model may itself contain ":"). */
export const RateLimitsSchema = z.record(z.string().min(1), RateLimitSchema);
export type RateLimits = z.infer<typeof RateLimitsSchema>;

export interface ProviderRateLimiterOptions {
  redis: Redis;
  limits: RateLimits;
  /** Key prefix (env `QUEUE_PREFIX`); a `{hash tag}` keeps every limit key in one Redis Cluster slot. */
  prefix?: string;
  /** The window the per-minute limits count over. Default 60 000 ms (shorter in tests). */
  windowMs?: number;
  /** A concurrency slot not renewed for this long is freed (its worker died). Default 30 000 ms. */
  slotTtlMs?: number;
}

/** A granted call: renew it while the call runs, release it when it ends. */
export interface RateLimitSlot {
  renew(): Promise<void>;
  /** Frees the concurrency slot and counts the tokens the call used. */
  release(tokens: number): Promise<void>;
}

export type AdmitResult =
  { admitted: true; slot: RateLimitSlot } | { admitted: false; retryInMs: number; limit: string };

/** Windows are counted in 60 buckets: a check sums 61 of them, so it never undercounts a sliding window. */
const BUCKETS_PER_WINDOW = 60;
/** When a concurrency slot is full there is no expiry to wait for: look again soon. */
const CONCURRENCY_POLL_MS = 250;

// KEYS per scope: requests hash, tokens hash, concurrency zset. ARGV: now, bucketMs, buckets, holder, slotTtlMs,
// then per scope: requestsPerMinute, tokensPerMinute, maxConcurrent (0 = none).
// Returns {0} when admitted (and counts the call), else {waitMs, scopeIndex, which}.
const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1]); local bucketMs = tonumber(ARGV[2]); local buckets = tonumber(ARGV[3])
local holder = ARGV[4]; local slotTtl = tonumber(ARGV[5])
local current = math.floor(now / bucketMs); local oldest = current - buckets
local function windowWait(key, limit)
  local raw = redis.call('HGETALL', key); local list = {}; local sum = 0
  for i = 1, #raw, 2 do
    local b = tonumber(raw[i]); local n = tonumber(raw[i + 1])
    if b < oldest then redis.call('HDEL', key, raw[i]) else sum = sum + n; table.insert(list, {b, n}) end
  end
  if sum < limit then return 0 end
  table.sort(list, function(x, y) return x[1] < y[1] end)
  for _, e in ipairs(list) do
    sum = sum - e[2]
    if sum < limit then return (e[1] + buckets + 1) * bucketMs - now end
  end
  return bucketMs
end
local scopes = #KEYS / 3
for s = 0, scopes - 1 do
  local rpm = tonumber(ARGV[6 + s * 3]); local tpm = tonumber(ARGV[7 + s * 3]); local maxc = tonumber(ARGV[8 + s * 3])
  if rpm > 0 then local w = windowWait(KEYS[s * 3 + 1], rpm); if w > 0 then return {w, s, 1} end end
  if tpm > 0 then local w = windowWait(KEYS[s * 3 + 2], tpm); if w > 0 then return {w, s, 2} end end
  if maxc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[s * 3 + 3], '-inf', now)
    if redis.call('ZSCORE', KEYS[s * 3 + 3], holder) == false and redis.call('ZCARD', KEYS[s * 3 + 3]) >= maxc then return {-1, s, 3} end
  end
end
local ttl = (buckets + 2) * bucketMs
for s = 0, scopes - 1 do
  redis.call('HINCRBY', KEYS[s * 3 + 1], current, 1); redis.call('PEXPIRE', KEYS[s * 3 + 1], ttl)
  redis.call('ZADD', KEYS[s * 3 + 3], now + slotTtl, holder); redis.call('PEXPIRE', KEYS[s * 3 + 3], math.max(slotTtl * 2, ttl))
end
return {0}
`;

// Versioned: a changed script never reuses an older definition on a shared connection.
const ADMIT_COMMAND = "ensembleAdmitProviderCallV1";

/**
 * Cluster-wide request, token and concurrency limits per provider and per model, held
 * in Redis so every worker process shares them. A call over a limit is not failed: the
 * caller is told how long to wait (the step job is delayed, not retried).
 */
export class ProviderRateLimiter {
  private readonly redis: Redis;
  private readonly limits: RateLimits;
  private readonly prefix: string;
  private readonly bucketMs: number;
  private readonly slotTtlMs: number;

  private readonly admitScript: RedisScript;

  constructor(options: ProviderRateLimiterOptions) {
    this.redis = options.redis;
    this.admitScript = defineRedisScript(this.redis, ADMIT_COMMAND, ADMIT_SCRIPT);
    this.limits = options.limits;
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.bucketMs = Math.max(1, Math.floor((options.windowMs ?? 60_000) / BUCKETS_PER_WINDOW));
    this.slotTtlMs = options.slotTtlMs ?? 30_000;
  }

  /** The limits of one provider: its own entry and its models' (`openai`, `openai:gpt-4o`), for the provider catalog. */
  limitsOf(provider: string): RateLimits {
    return Object.fromEntries(
      Object.entries(this.limits).filter(([key]) => key === provider || key.startsWith(`${provider}:`)),
    );
  }

  /** Whether any limit applies to this provider and model (no Redis work otherwise). */
  covers(provider: string, model: string): boolean {
    return this.scopes(provider, model).length > 0;
  }

  /** Admits one call by `holder` (unique per attempt: a redelivered attempt reuses its slot). */
  async admit(provider: string, model: string, holder: string): Promise<AdmitResult> {
    const scopes = this.scopes(provider, model);
    if (scopes.length === 0)
      return { admitted: true, slot: { renew: async () => undefined, release: async () => undefined } };
    const keys = scopes.flatMap((s) => this.keys(s.name));
    const args = [
      Date.now(),
      this.bucketMs,
      BUCKETS_PER_WINDOW,
      holder,
      this.slotTtlMs,
      ...scopes.flatMap((s) => [
        s.limit.requestsPerMinute ?? 0,
        s.limit.tokensPerMinute ?? 0,
        s.limit.maxConcurrent ?? 0,
      ]),
    ];
    const reply = (await this.admitScript(keys.length, ...keys, ...args)) as number[];
    const [wait = 0, scopeIndex = 0, which = 0] = reply;
    if (wait === 0)
      return {
        admitted: true,
        slot: this.slot(
          scopes.map((s) => s.name),
          holder,
        ),
      };
    const scope = scopes[scopeIndex]?.name ?? provider;
    const limit = `${scope} ${["", "requestsPerMinute", "tokensPerMinute", "maxConcurrent"][which] ?? ""}`.trim();
    // Jitter spreads the waiting steps so they do not all come back in the same millisecond.
    // +5 ms: a timer and Date.now() can disagree by a millisecond; coming back early is wasted work.
    const retryInMs = (wait < 0 ? CONCURRENCY_POLL_MS : wait + 5) + Math.floor(Math.random() * CONCURRENCY_POLL_MS);
    return { admitted: false, retryInMs, limit };
  }

  private slot(scopes: string[], holder: string): RateLimitSlot {
    return {
      renew: async () => {
        const pipeline = this.redis.pipeline();
        for (const scope of scopes)
          pipeline.zadd(this.keys(scope)[2] as string, "XX", Date.now() + this.slotTtlMs, holder);
        await pipeline.exec();
      },
      release: async (tokens) => {
        const bucket = Math.floor(Date.now() / this.bucketMs);
        const pipeline = this.redis.pipeline();
        for (const scope of scopes) {
          const [, tokensKey, slotsKey] = this.keys(scope) as [string, string, string];
          pipeline.zrem(slotsKey, holder);
          if (tokens > 0)
            pipeline
              .hincrby(tokensKey, String(bucket), tokens)
              .pexpire(tokensKey, (BUCKETS_PER_WINDOW + 2) * this.bucketMs);
        }
        await pipeline.exec();
      },
    };
  }

  private scopes(provider: string, model: string): { name: string; limit: RateLimit }[] {
    const found: { name: string; limit: RateLimit }[] = [];
    for (const name of [provider, `${provider}:${model}`]) {
      const limit = this.limits[name];
      if (limit && (limit.requestsPerMinute || limit.tokensPerMinute || limit.maxConcurrent))
        found.push({ name, limit });
    }
    return found;
  }

  private keys(scope: string): string[] {
    const base = `${this.prefix}:provider-limit:${scope}`;
    return [`${base}:requests`, `${base}:tokens`, `${base}:slots`];
  }
}
