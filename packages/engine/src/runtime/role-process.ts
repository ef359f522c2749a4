import type { Worker } from "@ensemble/queue";
import type { Logger } from "pino";
import { startHealthServer } from "../observability/health-server.js";
import { ProcessMetrics } from "../observability/process-metrics.js";
import { clusterQueueDepths } from "../observability/queue-depths.js";
import { processReadinessProbe } from "../observability/readiness.js";
import type { EngineDeps, RunDeps } from "../engine-deps.js";
import { createEngine, type Engine } from "./create-engine.js";
import { engineConfigFromEnv, type EngineEnv } from "./engine-env.js";
import { createLogger } from "./logger.js";
import { closeOnSignals, surviveDatabaseDisconnects } from "./process-lifecycle.js";

export type ProcessRole = "worker" | "scheduler";

export interface RoleProcess<D extends RunDeps = RunDeps> {
  logger: Logger;
  metrics: ProcessMetrics;
  engine: Engine<D>;
}

/**
 * The start of a separate worker or scheduler process: its logger, its metrics and the
 * engine on the shared Postgres. Exits with a fatal log when DATABASE_URL is missing: an
 * embedded database would be this process's alone.
 */
export async function startRoleProcess(role: "worker", env: EngineEnv): Promise<RoleProcess<EngineDeps>>;
export async function startRoleProcess(role: "scheduler", env: EngineEnv): Promise<RoleProcess>;
export async function startRoleProcess(role: ProcessRole, env: EngineEnv): Promise<RoleProcess> {
  const logger = createLogger({ level: env.LOG_LEVEL, name: role });
  surviveDatabaseDisconnects(logger);
  if (!env.DATABASE_URL) {
    logger.fatal(
      `DATABASE_URL is required: a separate ${role} shares Postgres with the other processes (or run everything in one process with \`pnpm start\`)`,
    );
    process.exit(1);
  }
  const metrics = new ProcessMetrics({ role });
  const engine = await createEngine({
    ...engineConfigFromEnv(env),
    role,
    logger,
    observer: metrics,
    serviceName: `ensemble-${role}`,
  });
  return { logger, metrics, engine };
}

/**
 * Serves HEALTH_PORT when set (readiness of the process's queues; the scheduler adds
 * `/queues` for the autoscaler), then closes the role's runtime, the health server and the
 * engine, in that order, on SIGTERM or SIGINT within DRAIN_MS.
 */
export async function runUntilSignalled(
  role: ProcessRole,
  { logger, metrics, engine }: RoleProcess,
  env: EngineEnv,
  runtime: { workers: readonly Worker[]; close(): Promise<void> },
): Promise<void> {
  const health =
    env.HEALTH_PORT === undefined
      ? undefined
      : await startHealthServer({
          port: env.HEALTH_PORT,
          metrics,
          readiness: processReadinessProbe(engine.deps, () => runtime.workers),
          ...(role === "scheduler" ? { queues: () => clusterQueueDepths(engine.deps) } : {}),
          logger,
        });
  closeOnSignals(logger, [() => runtime.close(), async () => health?.close(), () => engine.close()], {
    drainMs: env.DRAIN_MS,
  });
}
