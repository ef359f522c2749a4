// The API process (`pnpm start:api`), or the all-in-one process (`pnpm start`, ROLES=all).
import {
  closeOnSignals,
  createEngine,
  createLogger,
  engineConfigFromEnv,
  clusterQueueDepths,
  readinessProbe,
  startHealthServer,
  startScheduler,
  startStepWorker,
  surviveDatabaseDisconnects,
  type Engine,
  type HealthServer,
  type RunDeps,
  type Runtime,
} from "@ensemble/engine";
import { createApp } from "./app.js";
import { ensureDevCredentials } from "./dev-credentials.js";
import { attachFlowWebSocket } from "./events/flow-events.js";
import { parseApiEnv } from "./env.js";
import { openRequestGuards } from "./guards/open-request-guards.js";
import { HttpMetrics } from "./ops/http-metrics.js";
import { PrometheusMetrics } from "./ops/prometheus-metrics.js";

const env = parseApiEnv();
const logger = createLogger({ level: env.LOG_LEVEL, name: env.ROLES === "all" ? "ensemble" : "api" });
surviveDatabaseDisconnects(logger);
const engineConfig = { ...engineConfigFromEnv(env), logger };
const runtimes: Runtime[] = [];
let engine: Engine<RunDeps>;
if (env.ROLES === "all") {
  // The all-in-one process runs steps too: provider adapters, rate limits, step-end commits.
  const all = await createEngine({ ...engineConfig, role: "all", serviceName: "ensemble" });
  runtimes.push(
    await startScheduler(all.deps, { connection: all.workerConnection("scheduler"), prefix: env.QUEUE_PREFIX }),
  );
  runtimes.push(
    await startStepWorker(all.deps, {
      connection: all.workerConnection("worker"),
      prefix: env.QUEUE_PREFIX,
      concurrency: env.WORKER_CONCURRENCY,
    }),
  );
  engine = all;
} else {
  engine = await createEngine({ ...engineConfig, role: "api", serviceName: "ensemble-api" });
}
const { deps } = engine;

// Before listening: once /readyz answers, the printed key works.
if (env.DEV_MODE) {
  const dev = await ensureDevCredentials(deps.db, env.DEV_API_KEY);
  // A new key is printed on purpose, once, in development only: the newcomer's first key.
  // A DEV_API_KEY is known to whoever set it: only its prefix is shown, so logs never hold it.
  const shown = env.DEV_API_KEY ? `${dev.apiKey.slice(0, 10)}… (DEV_API_KEY)` : dev.apiKey;
  const bearer = env.DEV_API_KEY ? "$DEV_API_KEY" : dev.apiKey;
  logger.info({ userId: dev.userId }, "development API key printed on stderr");
  process.stderr.write(
    `\n  Development API key (user "${dev.userId}"): ${shown}\n  curl -H "Authorization: Bearer ${bearer}" http://127.0.0.1:${env.PORT}/v1/templates\n\n`,
  );
}

const requestGuards = openRequestGuards(env, logger);
// Aborted on SIGTERM: /readyz fails, new requests get 503, held `?wait=true` requests get 202.
const draining = new AbortController();
const readiness = readinessProbe(deps);
const httpMetrics = new HttpMetrics();
const app = createApp({
  deps,
  shutdown: draining.signal,
  guards: requestGuards.guards,
  adminToken: env.ADMIN_TOKEN,
  uiDir: env.UI_DIR,
  adminSessions: requestGuards.adminSessions,
  trustProxy: env.TRUST_PROXY,
  keyCacheTtlMs: env.KEY_CACHE_TTL_MS,
  readiness,
  httpMetrics,
  // With HEALTH_PORT, /metrics is served there only: the public port carries no metrics.
  serveMetrics: env.HEALTH_PORT === undefined,
  events: {
    heartbeatMs: env.EVENTS_HEARTBEAT_MS,
    slowClientMs: env.EVENTS_SLOW_CLIENT_MS,
    slowClientBytes: env.EVENTS_SLOW_CLIENT_BYTES,
  },
});
const server = app.listen(env.PORT, () => {
  logger.info({ port: env.PORT, roles: env.ROLES, database: env.DATABASE_URL ? "postgres" : "pglite" }, "listening");
});
// Idle keep-alive connections stay open longer than clients and load balancers keep theirs
// (60 s is the usual balancer default): when the server closes first, a client that
// reuses the connection at that moment has its request cut off ("other side closed").
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
const eventStreams = attachFlowWebSocket(server, app);
server.on("error", (err) => {
  logger.fatal({ err }, "cannot listen");
  process.exit(1);
});
let health: HealthServer | undefined;
if (env.HEALTH_PORT !== undefined) {
  const prometheus = new PrometheusMetrics(deps, httpMetrics.registry);
  health = await startHealthServer({
    port: env.HEALTH_PORT,
    metrics: { contentType: prometheus.contentType, render: () => prometheus.scrape() },
    // Not ready from the first signal on, as /readyz on PORT.
    readiness: async () => ({ ...(await readiness()), accepting: !draining.signal.aborted }),
    queues: () => clusterQueueDepths(deps),
    logger,
  });
}

closeOnSignals(
  logger,
  [
    // Open event streams would keep the server from closing: they end with a retry hint, and
    // clients resume elsewhere with Last-Event-ID.
    async () => eventStreams.close(),
    () =>
      new Promise<void>((resolve) => {
        // Waits for the requests in flight (held `?wait=true` ones are being answered 202).
        // A keep-alive connection goes idle once its last response is sent: close those as
        // they do, or the server would wait for the clients to hang up.
        const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => {
          clearInterval(closeIdle);
          resolve();
        });
        server.closeIdleConnections();
      }),
    () => requestGuards.close(),
    ...runtimes.map((r) => () => r.close()),
    async () => health?.close(),
    () => engine.close(),
  ],
  { drainMs: env.DRAIN_MS, onSignal: () => draining.abort() },
);
