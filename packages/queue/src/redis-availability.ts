import type { Redis } from "ioredis";
import { RedisUnavailableError } from "./errors/redis-unavailable-error.js";

// Messages ioredis and BullMQ use when a command cannot reach Redis. ioredis throws plain
// Errors for most of these, so the message (or the socket error code) is all we can match.
const UNAVAILABLE_MESSAGES = [
  "enableOfflineQueue options is false", // producer while disconnected (standalone and cluster)
  "Connection is closed", // ioredis and BullMQ's ConnectionClosedError
  "Reached the max retries per request limit", // MaxRetriesPerRequestError
  "None of startup nodes is available", // cluster
  "Cluster is disconnected",
  "connect ETIMEDOUT",
  "Command timed out", // ioredis commandTimeout
  // Full (maxmemory reached under noeviction): unavailable for writes until memory is freed.
  "OOM command not allowed",
];
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EAI_AGAIN",
]);
const UNAVAILABLE_NAMES = new Set(["MaxRetriesPerRequestError", "ClusterAllFailedError", "ConnectionClosedError"]);

/**
 * True when `err` (or its cause) says Redis is unreachable, or full (it refuses writes
 * at maxmemory), as opposed to a bad command or script.
 */
export function isRedisUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (current instanceof RedisUnavailableError) return true;
    if (UNAVAILABLE_NAMES.has(current.name)) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (UNAVAILABLE_MESSAGES.some((text) => current instanceof Error && current.message.includes(text))) return true;
  }
  return false;
}

/** Wraps an unavailability error as `RedisUnavailableError`; anything else is returned as is. */
export function toRedisUnavailable(err: unknown, operation: string): unknown {
  if (err instanceof RedisUnavailableError || !isRedisUnavailable(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new RedisUnavailableError(`Redis unavailable during ${operation}: ${detail}`, { cause: err, operation });
}

/**
 * Resolves once `redis` is ready, or throws `RedisUnavailableError` after `timeoutMs`.
 *
 * A fail-fast producer rejects commands until its connection is ready, including in the
 * first milliseconds after start; waiting briefly here covers start-up and reconnect blips
 * while still failing fast during a real outage.
 */
export async function waitForRedisReady(redis: Redis, timeoutMs: number, operation = "connect"): Promise<void> {
  if (redis.status === "ready") return;
  if (redis.status === "end") {
    throw new RedisUnavailableError(`Redis unavailable during ${operation}: connection is closed`, { operation });
  }
  if (redis.status === "wait") redis.connect().catch(() => undefined); // lazyConnect: start it; errors surface below

  await new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("end", onEnd);
      redis.off("error", onError);
    };
    const fail = (reason: string): void => {
      cleanup();
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      reject(
        new RedisUnavailableError(`Redis unavailable during ${operation}: ${reason}${detail}`, {
          cause: lastError,
          operation,
        }),
      );
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onEnd = (): void => fail("connection is closed");
    const onError = (err: unknown): void => {
      lastError = err;
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    redis.on("ready", onReady);
    redis.on("end", onEnd);
    redis.on("error", onError);
  });
}

/**
 * For fail-fast connections (offline queue disabled) waits up to `timeoutMs` for readiness,
 * so a command issued while connecting is not rejected outright. Connections with an
 * offline queue hold commands themselves and pass straight through.
 */
export async function whenFailFastReady(redis: Redis, timeoutMs: number, operation: string): Promise<void> {
  if (redis.status === "ready" || redis.options.enableOfflineQueue !== false) return;
  await waitForRedisReady(redis, timeoutMs, operation);
}

/**
 * Runs one Redis operation on a fail-fast connection: waits for readiness as
 * `whenFailFastReady` does, and reports an unreachable or full Redis as
 * `RedisUnavailableError` naming `operation`; other errors pass through unchanged.
 */
export async function callRedis<T>(
  redis: Redis,
  timeoutMs: number,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  await whenFailFastReady(redis, timeoutMs, operation);
  try {
    return await call();
  } catch (err) {
    throw toRedisUnavailable(err, operation);
  }
}
