import { createContext, Script } from "node:vm";

/**
 * Runs a synchronous function, stopping it when it spends more than `budgetMs` of CPU.
 * A condition cannot be interrupted from JavaScript; node:vm's timeout can: its
 * watchdog ends whatever JavaScript is running, including functions of this realm
 * that the script calls. (It costs about 0.3 ms per call: a thread starts and stops.)
 *
 * The watchdog counts wall time, and a busy or CPU-throttled process can be descheduled
 * for longer than a whole budget while the condition itself did almost nothing. So a
 * timeout counts as an overrun only when this thread spent at least half the budget in
 * CPU; otherwise the task, which is pure, runs again, a few times at most.
 */

export class TimeBudgetExceededError extends Error {
  override readonly name = "TimeBudgetExceededError";
}

const sandbox = createContext({ task: undefined as (() => unknown) | undefined });
const runTask = new Script("task()");
const MAX_TRIES = 3;

export function runWithTimeBudget<T>(task: () => T, budgetMs: number): T {
  sandbox.task = task;
  try {
    for (let tries = 1; ; tries++) {
      const cpuStart = process.threadCpuUsage();
      try {
        return runTask.runInContext(sandbox, { timeout: budgetMs }) as T;
      } catch (error) {
        if ((error as { code?: string }).code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw error;
        if (tries < MAX_TRIES && threadCpuMsSince(cpuStart) < budgetMs / 2) continue;
        throw new TimeBudgetExceededError(`ran longer than its budget of ${budgetMs} ms`);
      }
    }
  } finally {
    sandbox.task = undefined;
  }
}

/** CPU time this thread spent since `start`, in ms: what a condition's budget bounds. */
export function threadCpuMsSince(start: NodeJS.CpuUsage): number {
  const spent = process.threadCpuUsage(start);
  return (spent.user + spent.system) / 1_000;
}
