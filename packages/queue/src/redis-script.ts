import type { Redis } from "ioredis";

/** A Lua script of ours, run by name: EVALSHA, falling back to loading it when Redis forgot it. */
export type RedisScript = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Defines one of the project's own Lua scripts on a connection (once; names are versioned so
 * a changed script never reuses an old definition). Scripts are constants in this codebase,
 * never built from user data. Define them when the owning object is built: ioredis copies a
 * connection's commands into an auto-pipeline when it opens one. With `numberOfKeys` unset,
 * the first argument is the key count.
 */
export function defineRedisScript(redis: Redis, name: string, lua: string, numberOfKeys?: number): RedisScript {
  const commands = redis as unknown as Record<string, RedisScript | undefined>;
  if (!commands[name]) redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  const command = commands[name];
  if (!command) throw new Error(`could not define the Redis script ${name}`);
  return (...args) => command.apply(redis, args);
}
