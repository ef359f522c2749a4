// A step worker process (`pnpm start:worker`; start several to scale).
import { runUntilSignalled, startRoleProcess, startStepWorker } from "@ensemble/engine";
import { parseWorkerEnv } from "./env.js";

const env = parseWorkerEnv();
const role = await startRoleProcess("worker", env);
const { engine, metrics } = role;
const worker = await startStepWorker(engine.deps, {
  connection: engine.workerConnection("worker"),
  prefix: env.QUEUE_PREFIX,
  concurrency: env.WORKER_CONCURRENCY,
  ...(env.WORKER_PROVIDERS ? { providers: env.WORKER_PROVIDERS } : {}),
  ...(env.WORKER_MODELS ? { models: env.WORKER_MODELS } : {}),
});
metrics.observeStepsInFlight(() => worker.inFlight.countByProvider(), worker.providers);
await runUntilSignalled("worker", role, env, worker);
