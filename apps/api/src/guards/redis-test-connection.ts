import { randomUUID } from "node:crypto";
import { closeRedisConnection, createRedisConnection, type Redis } from "@ensemble/queue";

/** A fail-fast connection (as the API uses) and a fresh key prefix; `close` deletes the prefix's keys. */
export function openTestRedis(): { redis: Redis; prefix: string; close: () => Promise<void> } {
  const redis = createRedisConnection({
    url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    role: "producer",
    name: "api-guards-test",
  });
  const prefix = `test-guards-${randomUUID().slice(0, 8)}`;
  return {
    redis,
    prefix,
    close: async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await closeRedisConnection(redis);
    },
  };
}
