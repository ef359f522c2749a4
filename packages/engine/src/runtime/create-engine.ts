import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { DEFAULT_PRICE_TABLE, HookRegistry, type PriceTable } from "@ensemble/core";
import { migrateDatabase, openDatabase, unappliedMigrations, type DatabaseHandle } from "@ensemble/db";
import { createSimProvider, ProviderRegistry, providersFromEnv } from "@ensemble/providers";
import { startTracing } from "@ensemble/telemetry";
import {
  ArchiveSchedule,
  CancelSignals,
  closeRedisConnection,
  ClusterMetrics,
  createRedisConnection,
  JobProducer,
  ProgressBus,
  ProviderRateLimiter,
  type RateLimits,
} from "@ensemble/queue";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { ProviderCatalog } from "../catalog/provider-catalog.js";
import { SpendCaps } from "../spend/spend-caps.js";
import type { EngineObserver } from "../observability/engine-observer.js";
import {
  DEFAULT_ENGINE_SETTINGS,
  type EngineDeps,
  type EngineSettings,
  type RunDeps,
  type StepDeps,
} from "../engine-deps.js";
import { CommittedDeliveries } from "../run/committed-deliveries.js";
import { CompiledFlowCache } from "../run/flow-cache.js";
import { PlannedEndCommitter } from "../step/planned-end-committer.js";
import { StepClaims } from "../step/step-claims.js";
import { StepEndCommitter } from "../step/step-end-committer.js";

/** With `migrate: false`, how long a process waits at start for the migrations it needs. */
const SCHEMA_WAIT_MS = 5 * 60_000;
const SCHEMA_POLL_MS = 2_000;

/** How long closing the engine waits for events a Redis blip held back. */
const DELIVERY_FLUSH_MS = 2_000;

/**
 * What a process does: `api` and `scheduler` start, advance, repair and read runs (RunDeps);
 * `worker` and `all` (the all-in-one process) also run steps (EngineDeps: provider adapters,
 * rate limits, the lease pool, step-end commits).
 */
export type EngineRole = "api" | "scheduler" | "worker" | "all";

export interface EngineConfig {
  /** Default `all`. */
  role?: EngineRole;
  redisUrl: string;
  /** Unset: embedded PGlite (one process only: the all-in-one mode). */
  databaseUrl?: string;
  pgliteDir?: string;
  queuePrefix: string;
  logger: Logger;
  /**
   * At start: `true` applies pending migrations (safe with several processes: they take turns
   * under an advisory lock); `false` applies none and waits until something else (the migrate
   * Job, `pnpm db:migrate`) has, for at most SCHEMA_WAIT_MS; unset does neither.
   */
  migrate?: boolean;
  /** Connections per process in the database pool. */
  databasePoolSize?: number;
  settings?: Partial<EngineSettings>;
  prices?: PriceTable;
  providers?: ProviderRegistry;
  /** Vendor variables (OPENAI_API_KEY, …; see engineConfigFromEnv): their adapters join `providers`. */
  providerEnv?: Readonly<Record<string, string | undefined>>;
  hooks?: HookRegistry;
  /** Cluster-wide provider limits (env PROVIDER_RATE_LIMITS); none by default. */
  rateLimits?: RateLimits;
  /** The window the per-minute limits count over (env PROVIDER_RATE_LIMIT_WINDOW_MS). */
  rateLimitWindowMs?: number;
  /** Per-user fair sharing of the step queues (env FAIR_SHARE); false: FIFO. Default: true. */
  fairShare?: boolean;
  /** Name in logs and leases; default host:pid:random. */
  processName?: string;
  /** `service.name` of this process's traces (`OTEL_SERVICE_NAME` wins); traces are on only when `OTEL_*` asks. */
  serviceName?: string;
  /** Counts this process's lease and rate-limit events and jobs (its HEALTH_PORT /metrics). */
  observer?: EngineObserver;
}

export interface Engine<D extends RunDeps = EngineDeps> {
  deps: D;
  /** A new worker-role Redis connection (BullMQ workers block on theirs). */
  workerConnection(name: string): Redis;
  config: EngineConfig;
  close(): Promise<void>;
}

/** Opens the connections every Ensemble process needs and wires the dependencies its role uses. */
export async function createEngine(config: EngineConfig & { role: "api" | "scheduler" }): Promise<Engine<RunDeps>>;
export async function createEngine(config: EngineConfig & { role?: "worker" | "all" }): Promise<Engine>;
export async function createEngine(config: EngineConfig): Promise<Engine<RunDeps>>;
export async function createEngine(config: EngineConfig): Promise<Engine<RunDeps>> {
  const runsSteps = config.role !== "api" && config.role !== "scheduler";
  const workerId = config.processName ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const tracing = await startTracing({ serviceName: config.serviceName ?? "ensemble" });
  if (tracing.enabled) config.logger.info({ serviceName: config.serviceName }, "exporting traces over OTLP");
  const database = await openDatabase({
    ...(config.databaseUrl ? { url: config.databaseUrl } : {}),
    ...(config.pgliteDir ? { dataDir: config.pgliteDir } : {}),
    maxConnections: config.databasePoolSize ?? 10,
    applicationName: `ensemble:${workerId}`,
  });
  if (config.migrate) await migrateDatabase(database);
  else if (config.migrate === false) await waitForMigrations(database, config.logger);
  // Step leases on their own small pool that commits asynchronously (see OpenDatabaseOptions.asyncCommit).
  const leaseDatabase: DatabaseHandle =
    runsSteps && config.databaseUrl
      ? await openDatabase({
          url: config.databaseUrl,
          maxConnections: config.databasePoolSize ?? 10,
          asyncCommit: true,
          applicationName: `ensemble-lease:${workerId}`,
        })
      : database;

  const opened: Redis[] = [];
  const connect = (role: "worker" | "producer" | "subscriber", name: string): Redis => {
    // The producer carries every step's events, jobs and metrics: what concurrent steps
    // issue in one event-loop turn goes out in one write (and one read), in issue order.
    const connection = createRedisConnection({
      url: config.redisUrl,
      role,
      name: `ensemble:${name}`,
      autoPipelining: role === "producer",
    });
    connection.on("error", (err) => config.logger.debug({ err, connection: name }, "redis connection error"));
    opened.push(connection);
    return connection;
  };
  const producerConnection = connect("producer", "producer");
  const producer = new JobProducer({
    connection: producerConnection,
    prefix: config.queuePrefix,
    fairShare: config.fairShare ?? true,
  });
  const bus = new ProgressBus({
    publisher: producerConnection,
    subscriber: () => connect("subscriber", "events"),
    prefix: config.queuePrefix,
  });
  const cancelSignals = new CancelSignals({
    publisher: producerConnection,
    subscriber: () => connect("subscriber", "cancel"),
    prefix: config.queuePrefix,
  });

  const deliveries = new CommittedDeliveries({ logger: config.logger });

  const settings = { ...DEFAULT_ENGINE_SETTINGS, ...config.settings };
  const runDeps: RunDeps = {
    db: database.db,
    transact: (fn) => database.transact(fn),
    producer,
    bus,
    archives: new ArchiveSchedule({ connection: producerConnection, prefix: config.queuePrefix }),
    cancelSignals,
    deliveries,
    logger: config.logger,
    settings,
    flows: new CompiledFlowCache(),
    workerId,
    providerCatalog: new ProviderCatalog({ db: database.db, logger: config.logger }),
    spendCaps: new SpendCaps(database.db),
    ...(config.observer ? { observer: config.observer } : {}),
    metrics: new ClusterMetrics({ connection: producerConnection, prefix: config.queuePrefix }),
  };
  const deps: RunDeps | EngineDeps = runsSteps
    ? { ...runDeps, ...stepDeps(config, database, leaseDatabase, producerConnection, settings) }
    : runDeps;
  warnUnlessNoEviction(producer, config.logger);
  return {
    deps,
    config,
    workerConnection: (name) => connect("worker", name),
    close: async () => {
      // Events a Redis blip held back still have a moment to go out.
      await deliveries.flush(DELIVERY_FLUSH_MS);
      await Promise.allSettled([producer.close(), bus.close(), cancelSignals.close()]);
      // closeRedisConnection, not quit(): QUIT is refused while a connection is down, and it would then reconnect forever.
      await Promise.allSettled(opened.map(closeRedisConnection));
      if (leaseDatabase !== database) await leaseDatabase.close();
      await database.close();
      await tracing.shutdown();
    },
  };
}

/** Provider adapters (the configured ones, the environment's, `sim`), rate limits, the lease pool and step-end commits. */
function stepDeps(
  config: EngineConfig,
  database: DatabaseHandle,
  leaseDatabase: DatabaseHandle,
  producerConnection: Redis,
  settings: EngineSettings,
): StepDeps {
  const providers = config.providers ?? new ProviderRegistry();
  // An adapter the caller registered under the same key wins over the environment's.
  for (const adapter of providersFromEnv(config.providerEnv ?? {}))
    if (!providers.has(adapter.key)) providers.register(adapter);
  if (!providers.has("sim")) providers.register(createSimProvider());
  const rateLimiter =
    config.rateLimits && Object.keys(config.rateLimits).length > 0
      ? new ProviderRateLimiter({
          redis: producerConnection,
          limits: config.rateLimits,
          prefix: config.queuePrefix,
          slotTtlMs: settings.stepLeaseMs,
          ...(config.rateLimitWindowMs ? { windowMs: config.rateLimitWindowMs } : {}),
        })
      : null;
  const transact: RunDeps["transact"] = (fn) => database.transact(fn);
  return {
    leaseDb: leaseDatabase.db,
    claims: new StepClaims({ db: leaseDatabase.db, logger: config.logger }),
    stepEnds: new StepEndCommitter({ db: database.db, transact }),
    plannedEnds: new PlannedEndCommitter({ transact, logger: config.logger }),
    providers,
    rateLimiter,
    hooks: config.hooks ?? new HookRegistry(),
    prices: config.prices ?? DEFAULT_PRICE_TABLE,
  };
}

/** Waits until every migration of this build is applied by someone else; throws after SCHEMA_WAIT_MS. */
async function waitForMigrations(database: DatabaseHandle, logger: Logger): Promise<void> {
  const started = Date.now();
  for (;;) {
    const missing = await unappliedMigrations(database);
    if (missing.length === 0) return;
    if (Date.now() - started > SCHEMA_WAIT_MS)
      throw new Error(
        `the database lacks migrations ${missing.join(", ")} and MIGRATE_ON_START=false: run the migrate job (node dist/migrate.mjs, or pnpm db:migrate)`,
      );
    logger.warn({ missing }, "waiting for the database migrations (MIGRATE_ON_START=false)");
    await new Promise((resolve) => setTimeout(resolve, SCHEMA_POLL_MS));
  }
}

/**
 * Redis must not evict: an evicted job, lease slot or event is lost without a trace. Under
 * `noeviction` a full Redis refuses writes instead (the API answers 503, readiness fails).
 * Checked once at start, without holding it up.
 */
function warnUnlessNoEviction(producer: JobProducer, logger: Logger): void {
  producer
    .memory()
    .then(({ policy }) => {
      if (policy && policy !== "noeviction")
        logger.warn(
          { maxmemoryPolicy: policy },
          "Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict jobs and events; set maxmemory-policy noeviction",
        );
    })
    .catch((err: unknown) => logger.debug({ err }, "Redis maxmemory-policy not checked"));
}
