import { defineRedisScript, whenFailFastReady, type Redis } from "@ensemble/queue";

/** How long a call waits for the fail-fast connection to (re)connect before giving up. */
const READY_TIMEOUT_MS = 1_000;

/** One wait per connection, shared by every call made while it (re)connects (a burst at start would add a listener each). */
const readiness = new WeakMap<Redis, Promise<void>>();

/** Waits (briefly) for a fail-fast connection to be ready; throws RedisUnavailableError (a 503) if it is not. */
export function whenReady(redis: Redis, operation: string): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  let pending = readiness.get(redis);
  if (!pending) {
    pending = whenFailFastReady(redis, READY_TIMEOUT_MS, operation).finally(() => readiness.delete(redis));
    readiness.set(redis, pending);
  }
  return pending;
}

/**
 * A Lua script as a function (packages/queue's defineRedisScript), that first waits for the
 * fail-fast connection to be ready.
 */
export function redisScript<Args extends (string | number)[]>(
  redis: Redis,
  name: string,
  numberOfKeys: number,
  lua: string,
): (...args: Args) => Promise<unknown> {
  const command = defineRedisScript(redis, name, lua, numberOfKeys);
  return async (...args: Args) => {
    await whenReady(redis, name);
    return command(...args);
  };
}
