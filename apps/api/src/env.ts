import { EngineEnvSchema, parseEnv } from "@ensemble/engine";
import { z } from "zod";
import { DEFAULT_KEY_CACHE_TTL_MS } from "./auth/api-key-lookup.js";
import { DEFAULT_EVENT_STREAM_SETTINGS } from "./events/event-stream-settings.js";
import { DEFAULT_REQUEST_LIMITS } from "./http/request-limits.js";

/** The API process's configuration (plus the engine's shared variables). */
const ApiEnvSchema = EngineEnvSchema.extend({
  /** HTTP port. */
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** Bearer token for /v1/admin and Bull Board; unset turns them off. */
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** The run viewer's built files (`pnpm --filter @ensemble/ui build`), served at /ui; default apps/ui/dist. */
  UI_DIR: z.string().min(1).optional(),
  /** How long a Bull Board browser login (GET /admin/login) lasts. */
  ADMIN_SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(12 * 3_600),
  /**
   * Express's `trust proxy`: "true" (any), a hop count ("1"), or addresses/subnets
   * ("loopback, 10.0.0.0/8"). Then X-Forwarded-Proto from those proxies makes a request
   * HTTPS (the login cookie gets Secure). Unset: X-Forwarded-* is ignored.
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .min(1)
    .optional()
    .transform((v) =>
      v === undefined ? undefined : v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v,
    ),
  /** "api", or "all": api + scheduler + worker in one process (the all-in-one mode). */
  ROLES: z.enum(["api", "all"]).default("api"),
  /** In-flight steps when this process also runs the worker role. */
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(50),
  /** A development API key to accept (for user "dev"); unset: a new one is printed at start. */
  DEV_API_KEY: z.string().min(16).optional(),
  /** SSE comment line / WebSocket ping every this many ms (proxies close idle connections). */
  EVENTS_HEARTBEAT_MS: z.coerce.number().int().min(100).default(15_000),
  /** An event-stream client whose socket buffer stays full this long is dropped (it resumes with Last-Event-ID). */
  EVENTS_SLOW_CLIENT_MS: z.coerce.number().int().min(100).default(30_000),
  /** An event-stream client with more unsent bytes than this that reads none of them is dropped at once (it resumes with Last-Event-ID). */
  EVENTS_SLOW_CLIENT_BYTES: z.coerce.number().int().min(65_536).default(DEFAULT_EVENT_STREAM_SETTINGS.slowClientBytes),
  /** Open event streams (SSE + WebSocket) per API key, counted in Redis across API processes; 0 turns the limit off. */
  MAX_STREAMS_PER_KEY: z.coerce.number().int().min(0).default(DEFAULT_REQUEST_LIMITS.streamsPerKey),
  REQUESTS_IN_FLIGHT_PER_KEY: z.coerce.number().int().min(0).default(DEFAULT_REQUEST_LIMITS.requestsInFlightPerKey),
  /** Largest JSON body in bytes; larger is 413 payload_too_large. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(100 * 1_048_576)
    .default(DEFAULT_REQUEST_LIMITS.bodyBytes),
  /** Requests per RATE_LIMIT_WINDOW_MS per API key (counted in Redis, across API processes); 0 turns it off. */
  RATE_LIMIT_REQUESTS: z.coerce.number().int().min(0).default(DEFAULT_REQUEST_LIMITS.rateLimitRequests),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(100).default(DEFAULT_REQUEST_LIMITS.rateLimitWindowMs),
  /** How long a process trusts an API key it looked up; a key revoked elsewhere stops working here within this. 0: no cache. */
  KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_KEY_CACHE_TTL_MS),
  /** How long the first answer to an Idempotency-Key is kept. */
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_REQUEST_LIMITS.idempotencyTtlSeconds),
  /** Create the "dev" user and print an API key at start; default on unless NODE_ENV=production. */
  DEV_MODE: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => (v === undefined ? process.env.NODE_ENV !== "production" : v === "true")),
});

export type ApiEnv = z.infer<typeof ApiEnvSchema>;

export function parseApiEnv(source: NodeJS.ProcessEnv = process.env): ApiEnv {
  return parseEnv(ApiEnvSchema, source);
}
