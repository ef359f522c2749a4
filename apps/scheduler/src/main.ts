// The scheduler process (`pnpm start:scheduler`): flow jobs — start, advance, cancel, timeout, sweep.
import { runUntilSignalled, startRoleProcess, startScheduler } from "@ensemble/engine";
import { parseSchedulerEnv } from "./env.js";

const env = parseSchedulerEnv();
const role = await startRoleProcess("scheduler", env);
const scheduler = await startScheduler(role.engine.deps, {
  connection: role.engine.workerConnection("scheduler"),
  prefix: env.QUEUE_PREFIX,
  concurrency: env.SCHEDULER_CONCURRENCY,
  sweepEveryMs: env.SWEEP_EVERY_MS,
});
await runUntilSignalled("scheduler", role, env, scheduler);
