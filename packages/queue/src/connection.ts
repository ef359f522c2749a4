import { Redis, type RedisOptions } from "ioredis";

/** What a connection is for; it decides how commands behave while Redis is unreachable. */
export type RedisConnectionRole = "worker" | "producer" | "subscriber";

export interface CreateRedisConnectionOptions {
  /** A `redis://` or `rediss://` URL (env `REDIS_URL`). */
  url: string;
  /**
   * - `worker`: BullMQ workers; commands wait for Redis to come back (BullMQ requires this of
   *   connections that block).
   * - `subscriber`: pub/sub listeners; like `worker`, since they should outlive an outage.
   * - `producer`: request paths (the API); commands fail fast so the caller can answer 503.
   */
  role: RedisConnectionRole;
  /** `CLIENT SETNAME`, so `CLIENT LIST` shows who holds each connection. Default: none. */
  name?: string;
  /**
   * How long a producer waits for the TCP connection before giving up on an attempt.
   * Default: 2000 ms for producers, ioredis' 10000 ms otherwise.
   */
  connectTimeoutMs?: number;
  /**
   * Commands issued in the same event-loop turn share one write (ioredis auto-pipelining),
   * in the order they were issued. Default: off. Define custom commands (Lua scripts,
   * BullMQ queues) before sending anything in a turn: ioredis copies them into a pipeline
   * when it creates it, and one defined later in that turn is missing from it.
   */
  autoPipelining?: boolean;
}

/** Producers must answer within a request's budget; 2 s is long enough for a slow TLS handshake. */
const PRODUCER_CONNECT_TIMEOUT_MS = 2_000;

/**
 * Creates an ioredis connection configured for its role. The caller owns it and quits it
 * (`await redis.quit()`) on shutdown; BullMQ leaves connections it was given open.
 */
export function createRedisConnection(options: CreateRedisConnectionOptions): Redis {
  const common: RedisOptions = {
    // Reconnect forever with a capped backoff: outages end, and a process that gives up
    // would have to be restarted by hand.
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
  if (options.name !== undefined) common.connectionName = options.name;
  if (options.autoPipelining) common.enableAutoPipelining = true;

  const roleOptions: RedisOptions =
    options.role === "producer"
      ? {
          // One retry covers a reconnect in flight; more would hold an HTTP request open.
          maxRetriesPerRequest: 1,
          // Reject commands while disconnected instead of buffering them in memory.
          enableOfflineQueue: false,
          connectTimeout: options.connectTimeoutMs ?? PRODUCER_CONNECT_TIMEOUT_MS,
        }
      : {
          // BullMQ requires null for blocking connections: a blocked BZPOPMIN must survive
          // reconnects rather than fail after N retries and stop the worker loop.
          maxRetriesPerRequest: null,
          ...(options.connectTimeoutMs !== undefined ? { connectTimeout: options.connectTimeoutMs } : {}),
        };

  return new Redis(options.url, { ...common, ...roleOptions });
}

/**
 * Closes a connection for good. QUIT when it is ready (pending replies arrive first);
 * otherwise disconnect, because a fail-fast connection rejects QUIT while it is not ready
 * and would go on reconnecting.
 */
export async function closeRedisConnection(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // the connection dropped under us: fall through to disconnect
    }
  }
  redis.disconnect();
}
