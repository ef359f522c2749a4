import { whenFailFastReady, type Redis } from "@ensemble/queue";

/** How long a call waits for the fail-fast connection to (re)connect before giving up. */
const READY_TIMEOUT_MS = 1_000;

/** One wait per connection, shared by every call made while it (re)connects (a burst at start would add a listener each). */
const readiness = new WeakMap<Redis, Promise<void>>();

function whenReady(redis: Redis, operation: string): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  let pending = readiness.get(redis);
  if (!pending) {
    pending = whenFailFastReady(redis, READY_TIMEOUT_MS, operation).finally(() => readiness.delete(redis));
    readiness.set(redis, pending);
  }
  return pending;
}

/**
 * A Lua script as a function: defined once per connection (EVALSHA afterwards, EVAL when
 * Redis forgot it). Names are versioned so a changed script never reuses an old definition.
 */
export function redisScript<Args extends (string | number)[]>(
  redis: Redis,
  name: string,
  numberOfKeys: number,
  lua: string,
): (...args: Args) => Promise<unknown> {
  const commands = redis as unknown as Record<string, ((...args: Args) => Promise<unknown>) | undefined>;
  if (!commands[name]) redis.defineCommand(name, { numberOfKeys, lua });
  const command = commands[name];
  if (!command) throw new Error(`could not define the Redis script ${name}`);
  return async (...args: Args) => {
    await whenReady(redis, name);
    return command.apply(redis, args);
  };
}
