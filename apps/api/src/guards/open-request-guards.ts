import { closeRedisConnection, createRedisConnection } from "@ensemble/queue";
import type { Logger } from "pino";
import { AdminSessions } from "../auth/admin-sessions.js";
import type { ApiEnv } from "../env.js";
import { createRequestGuards, type RequestGuards } from "./request-guards.js";

/** The API process's guards on their own fail-fast Redis connection (closed by `close`), which Bull Board's login sessions share. */
export function openRequestGuards(
  env: ApiEnv,
  logger: Logger,
): { guards: RequestGuards; adminSessions: AdminSessions; close: () => Promise<void> } {
  const redis = createRedisConnection({ url: env.REDIS_URL, role: "producer", name: "ensemble:api-guards" });
  redis.on("error", (err) => logger.debug({ err }, "redis connection error (api guards)"));
  const guards = createRequestGuards(redis, env.QUEUE_PREFIX, {
    bodyBytes: env.MAX_BODY_BYTES,
    rateLimitRequests: env.RATE_LIMIT_REQUESTS,
    rateLimitWindowMs: env.RATE_LIMIT_WINDOW_MS,
    idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
    streamsPerKey: env.MAX_STREAMS_PER_KEY,
    requestsInFlightPerKey: env.REQUESTS_IN_FLIGHT_PER_KEY,
  });
  const adminSessions = new AdminSessions(redis, env.QUEUE_PREFIX, env.ADMIN_SESSION_TTL_SECONDS);
  return { guards, adminSessions, close: () => closeRedisConnection(redis) };
}
