import type { EngineSettings } from "../engine-deps.js";
import { registerSecretValues, type PriceTable } from "@ensemble/core";
import { pickProviderVariables, priceTableFromFile, ProviderEnvSchema } from "@ensemble/providers";
import { RateLimitsSchema, type RateLimits } from "@ensemble/queue";
import { z } from "zod";

/**
 * Configuration every Ensemble process reads (architecture.md "Configuration").
 * Each app extends it in its own `src/env.ts`; it is parsed once at start.
 */
export const EngineEnvSchema = z.object({
  /** BullMQ queues and the progress bus. */
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /** Postgres; unset means embedded PGlite under PGLITE_DIR (all-in-one only: one process owns it). */
  DATABASE_URL: z.string().optional(),
  PGLITE_DIR: z.string().default(".data/pglite"),
  /** Redis key prefix; a `{hash tag}` keeps a queue's keys in one Redis Cluster slot. */
  QUEUE_PREFIX: z.string().min(1).default("ensemble"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * Apply the database migrations at start (default). `false`: apply none and wait for them
   * (the migrate Job does it), e.g. behind a transaction-mode pooler, where the migration's
   * session advisory lock does not hold.
   */
  MIGRATE_ON_START: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true"),
  /**
   * Port of /healthz, /readyz and /metrics (keep it internal: no auth); unset: not served
   * (several processes share a dev host). The API then serves /metrics there only, and its
   * probes on PORT too.
   */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** How soon (ms) another worker takes over the step of a worker that died. */
  STEP_LEASE_MS: z.coerce.number().int().min(500).default(30_000),
  /**
   * On SIGTERM, how long (ms) the process may take to drain (finish running steps, answer
   * held requests) before it exits; keep it below the orchestrator's grace period.
   */
  DRAIN_MS: z.coerce.number().int().min(0).default(25_000),
  /**
   * How long (ms) a flow's Redis event stream stays once its events are archived to
   * Postgres (a few seconds after its run ends); event replays then read Postgres.
   */
  ARCHIVED_EVENTS_TTL_MS: z.coerce.number().int().min(1_000).default(60_000),
  /**
   * Per-user fair sharing of the step queues (docs/operations.md "Priorities and fair
   * sharing"): each user's k-th waiting step sorts with the others' k-th. `false`: step jobs
   * are FIFO within their queue (priorities and aging off; `maxInFlightSteps` still holds).
   */
  FAIR_SHARE: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true"),
  /** How long (ms) a user's oldest low or normal priority step waits before the scheduler's sweep moves it one class up. */
  PRIORITY_AGING_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** Batch delivery (docs/operations.md "Batch delivery"): batched steps of one provider and model are submitted once this many wait… */
  BATCH_MAX_SIZE: z.coerce.number().int().min(1).max(50_000).default(1_000),
  /** …or once the oldest has waited this long (ms). */
  BATCH_MAX_AGE_MS: z.coerce.number().int().min(100).default(60_000),
  /** How often (ms) the scheduler polls a submitted batch (at most once per sweep). */
  BATCH_POLL_MS: z.coerce.number().int().min(100).default(30_000),
  /** Connections per process in the Postgres pool. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** Cluster-wide provider limits, JSON: {"openai":{"requestsPerMinute":500,"tokensPerMinute":200000,"maxConcurrent":20},"openai:gpt-4o":{…}}. */
  PROVIDER_RATE_LIMITS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "is not JSON" });
        return z.NEVER;
      }
    })
    .pipe(RateLimitsSchema)
    .optional(),
  /** The window PROVIDER_RATE_LIMITS' per-minute numbers count over (shorter in tests). */
  PROVIDER_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(100).default(60_000),
  /** Vendor keys and base URLs (OPENAI_API_KEY, …, OPENAI_COMPATIBLE_ENDPOINTS): see packages/providers/README.md. */
  ...ProviderEnvSchema.shape,
  /** A JSON price table merged over the default one (USD per million tokens, per provider and model). */
  PRICE_TABLE_FILE: z.string().optional(),
});
export type EngineEnv = z.infer<typeof EngineEnvSchema>;

/**
 * Parses the environment with an app's schema; a bad value stops the process naming the
 * variable. From then on the environment's secret values are masked (see configuredSecretValues).
 */
export function parseEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  registerSecretValues(configuredSecretValues(source));
  // An empty variable means "unset" (docker-compose and shells produce them).
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/**
 * The engine config an env implies. `source` is the raw environment the vendor adapters are
 * configured from (OPENAI_COMPATIBLE_ENDPOINTS names its key variables); only those variables are kept.
 */
export function engineConfigFromEnv(
  env: EngineEnv,
  source: Readonly<Record<string, string | undefined>> = process.env,
): {
  redisUrl: string;
  migrate: boolean;
  databaseUrl?: string;
  pgliteDir?: string;
  queuePrefix: string;
  databasePoolSize: number;
  settings: Pick<
    EngineSettings,
    "stepLeaseMs" | "archivedEventsTtlMs" | "priorityAgingMs" | "batchMaxSize" | "batchMaxAgeMs" | "batchPollMs"
  >;
  fairShare: boolean;
  rateLimits?: RateLimits;
  rateLimitWindowMs: number;
  providerEnv: Record<string, string>;
  prices?: PriceTable;
} {
  return {
    redisUrl: env.REDIS_URL,
    migrate: env.MIGRATE_ON_START,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { pgliteDir: env.PGLITE_DIR }),
    queuePrefix: env.QUEUE_PREFIX,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    settings: {
      stepLeaseMs: env.STEP_LEASE_MS,
      archivedEventsTtlMs: env.ARCHIVED_EVENTS_TTL_MS,
      priorityAgingMs: env.PRIORITY_AGING_MS,
      batchMaxSize: env.BATCH_MAX_SIZE,
      batchMaxAgeMs: env.BATCH_MAX_AGE_MS,
      batchPollMs: env.BATCH_POLL_MS,
    },
    fairShare: env.FAIR_SHARE,
    ...(env.PROVIDER_RATE_LIMITS ? { rateLimits: env.PROVIDER_RATE_LIMITS } : {}),
    rateLimitWindowMs: env.PROVIDER_RATE_LIMIT_WINDOW_MS,
    providerEnv: pickProviderVariables(source),
    ...(env.PRICE_TABLE_FILE ? { prices: priceTableFromFile(env.PRICE_TABLE_FILE) } : {}),
  };
}

/**
 * Every secret an environment configures: the provider keys (also an OpenAI-compatible
 * endpoint's `apiKeyEnv`), ADMIN_TOKEN, DEV_API_KEY and any password in a URL. redactSecrets
 * masks these values in step errors, events, logs and job failures: a vendor may echo its key.
 */
export function configuredSecretValues(source: Readonly<Record<string, string | undefined>>): string[] {
  const provider = pickProviderVariables(source);
  const keys = Object.entries(provider).filter(
    ([name]) => !(name in ProviderEnvSchema.shape) || name.endsWith("_API_KEY"),
  );
  const urls = [
    source.DATABASE_URL,
    source.REDIS_URL,
    provider.OPENAI_BASE_URL,
    provider.ANTHROPIC_BASE_URL,
    provider.GEMINI_BASE_URL,
  ];
  const values = [
    ...keys.map(([, value]) => value),
    source.ADMIN_TOKEN,
    source.DEV_API_KEY,
    ...urls.flatMap(urlPasswords),
  ];
  return [...new Set(values.filter((v): v is string => !!v))];
}

/** A URL's password as written and decoded (`postgres://app:s%40cret@db` → `s%40cret`, `s@cret`). */
function urlPasswords(url: string | undefined): string[] {
  if (!url || !URL.canParse(url)) return [];
  const { password } = new URL(url);
  if (!password) return [];
  try {
    return [password, decodeURIComponent(password)];
  } catch {
    return [password]; // a malformed escape: only the written form can appear
  }
}
