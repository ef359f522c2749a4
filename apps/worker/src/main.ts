// A step worker process (`pnpm start:worker`; start several to scale).
import {
  closeOnSignals,
  createEngine,
  createLogger,
  engineConfigFromEnv,
  surviveDatabaseDisconnects,
  processReadinessProbe,
  ProcessMetrics,
  startHealthServer,
  startStepWorker,
} from "@ensemble/engine";
import { parseWorkerEnv } from "./env.js";

const env = parseWorkerEnv();
const logger = createLogger({ level: env.LOG_LEVEL, name: "worker" });
surviveDatabaseDisconnects(logger);
if (!env.DATABASE_URL) {
  logger.fatal(
    "DATABASE_URL is required: a separate worker shares Postgres with the other processes (or run everything in one process with `pnpm start`)",
  );
  process.exit(1);
}
const metrics = new ProcessMetrics({ role: "worker" });
const engine = await createEngine({
  ...engineConfigFromEnv(env),
  logger,
  observer: metrics,
  serviceName: "ensemble-worker",
});
const worker = await startStepWorker(engine.deps, {
  connection: engine.workerConnection("worker"),
  prefix: env.QUEUE_PREFIX,
  concurrency: env.WORKER_CONCURRENCY,
  ...(env.WORKER_PROVIDERS ? { providers: env.WORKER_PROVIDERS } : {}),
  ...(env.WORKER_MODELS ? { models: env.WORKER_MODELS } : {}),
});
metrics.observeStepsInFlight(() => worker.inFlight.countByProvider(), worker.providers);
const health =
  env.HEALTH_PORT === undefined
    ? undefined
    : await startHealthServer({
        port: env.HEALTH_PORT,
        metrics,
        readiness: processReadinessProbe(engine.deps, () => worker.workers),
        logger,
      });
closeOnSignals(logger, [() => worker.close(), async () => health?.close(), () => engine.close()], {
  drainMs: env.DRAIN_MS,
});
