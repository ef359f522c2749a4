import { createContext, Script } from "node:vm";

/**
 * Runs a synchronous function, stopping it when it runs longer than `budgetMs`.
 * A condition cannot be interrupted from JavaScript; node:vm's timeout can: its
 * watchdog ends whatever JavaScript is running, including functions of this realm
 * that the script calls. (It costs about 0.3 ms per call: a thread starts and stops.)
 */

export class TimeBudgetExceededError extends Error {
  override readonly name = "TimeBudgetExceededError";
}

const sandbox = createContext({ task: undefined as (() => unknown) | undefined });
const runTask = new Script("task()");

export function runWithTimeBudget<T>(task: () => T, budgetMs: number): T {
  sandbox.task = task;
  try {
    return runTask.runInContext(sandbox, { timeout: budgetMs }) as T;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT")
      throw new TimeBudgetExceededError(`ran longer than its budget of ${budgetMs} ms`);
    throw error;
  } finally {
    sandbox.task = undefined;
  }
}
