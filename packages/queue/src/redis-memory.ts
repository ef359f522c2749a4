import type { Redis } from "ioredis";

/** Redis' memory as `INFO memory` reports it (readable where CONFIG is disabled, as on managed Redis). */
export interface RedisMemory {
  usedBytes: number;
  /** 0: no limit. */
  maxBytes: number;
  /** `maxmemory-policy`, e.g. `noeviction`. */
  policy: string;
}

/** How full Redis may get before readiness reports it: writes start failing at 100 %. */
export const REDIS_MEMORY_FULL_RATIO = 0.98;

export async function readRedisMemory(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info("memory");
  const field = (name: string): string => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim() ?? "";
  return {
    usedBytes: Number(field("used_memory")) || 0,
    maxBytes: Number(field("maxmemory")) || 0,
    policy: field("maxmemory_policy"),
  };
}

/** True when Redis has a memory limit and is (nearly) at it: it refuses writes with OOM. */
export function isRedisMemoryFull(memory: RedisMemory): boolean {
  return memory.maxBytes > 0 && memory.usedBytes >= memory.maxBytes * REDIS_MEMORY_FULL_RATIO;
}
