// The scheduler process (`pnpm start:scheduler`): flow jobs — start, advance, cancel, timeout, sweep.
import {
  closeOnSignals,
  clusterQueueDepths,
  createEngine,
  createLogger,
  engineConfigFromEnv,
  surviveDatabaseDisconnects,
  processReadinessProbe,
  ProcessMetrics,
  startHealthServer,
  startScheduler,
} from "@ensemble/engine";
import { parseSchedulerEnv } from "./env.js";

const env = parseSchedulerEnv();
const logger = createLogger({ level: env.LOG_LEVEL, name: "scheduler" });
surviveDatabaseDisconnects(logger);
if (!env.DATABASE_URL) {
  logger.fatal(
    "DATABASE_URL is required: a separate scheduler shares Postgres with the other processes (or run everything in one process with `pnpm start`)",
  );
  process.exit(1);
}
const metrics = new ProcessMetrics({ role: "scheduler" });
const engine = await createEngine({
  ...engineConfigFromEnv(env),
  logger,
  observer: metrics,
  serviceName: "ensemble-scheduler",
});
const scheduler = await startScheduler(engine.deps, {
  connection: engine.workerConnection("scheduler"),
  prefix: env.QUEUE_PREFIX,
  concurrency: env.SCHEDULER_CONCURRENCY,
  sweepEveryMs: env.SWEEP_EVERY_MS,
});
const health =
  env.HEALTH_PORT === undefined
    ? undefined
    : await startHealthServer({
        port: env.HEALTH_PORT,
        metrics,
        readiness: processReadinessProbe(engine.deps, () => scheduler.workers),
        queues: () => clusterQueueDepths(engine.deps),
        logger,
      });
closeOnSignals(logger, [() => scheduler.close(), async () => health?.close(), () => engine.close()], {
  drainMs: env.DRAIN_MS,
});
