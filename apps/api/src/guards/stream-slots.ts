import { randomUUID } from "node:crypto";
import type { Redis } from "@ensemble/queue";
import { redisScript } from "./redis-script.js";

// One sorted set per API key: a member per open stream, scored by when it lapses (Redis's
// clock, so no process clock matters). Lapsed members are dropped before counting: a stream
// whose API process died frees its slot once its lease runs out.
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
// Renew an open stream's lease (only while it still holds its slot).
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return renewed
`;

/** An open stream's slot: renew it while the stream lives, release it when it ends. */
export interface StreamSlot {
  renew(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Concurrent event streams (SSE + WebSocket) per API key, counted in Redis across API
 * processes. Each slot is leased for `leaseMs` and renewed by its stream's heartbeat.
 */
export class StreamSlots {
  private readonly acquireScript: (key: string, limit: number, leaseMs: number, member: string) => Promise<unknown>;
  private readonly renewScript: (key: string, leaseMs: number, member: string) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly limit: number,
  ) {
    this.acquireScript = redisScript(redis, "ensembleStreamSlotAcquireV1", 1, ACQUIRE_SCRIPT);
    this.renewScript = redisScript(redis, "ensembleStreamSlotRenewV1", 1, RENEW_SCRIPT);
  }

  /** A slot for one more stream of `apiKeyId`, or null when it has `limit` open. */
  async acquire(apiKeyId: string, leaseMs: number): Promise<StreamSlot | null> {
    const key = `${this.prefix}:streams:${apiKeyId}`;
    const member = randomUUID();
    if (Number(await this.acquireScript(key, this.limit, leaseMs, member)) !== 1) return null;
    return {
      renew: async () => {
        await this.renewScript(key, leaseMs, member);
      },
      release: async () => {
        await this.redis.zrem(key, member);
      },
    };
  }

  /** How many streams `apiKeyId` has open (lapsed slots included until the next acquire drops them). */
  async count(apiKeyId: string): Promise<number> {
    return this.redis.zcard(`${this.prefix}:streams:${apiKeyId}`);
  }
}
