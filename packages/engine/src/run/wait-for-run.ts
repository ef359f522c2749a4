import { isTerminalFlowEvent, isTerminalFlowStatus, type FlowExecutionResult } from "@ensemble/core";
import { findFlow } from "@ensemble/db";
import { followEvents } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";

const TERMINAL_EVENT_GRACE_MS = 1_000;

/**
 * Resolves with a run's FlowExecutionResult once it ends, or null after `timeoutMs` or
 * when `signal` aborts (the API is shutting down: the caller answers 202 instead).
 * It follows the flow's events from `afterEventId` (no polling) and re-checks the
 * database once subscribed, so a run that ended in between is not missed.
 */
export async function waitForRun(
  deps: RunDeps,
  flowId: string,
  run: number,
  afterEventId: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<FlowExecutionResult | null> {
  let resolveEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const stop = await followEvents(deps.bus, flowId, afterEventId, (event) => {
    if (isTerminalFlowEvent(event)) resolveEnded();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const current = await findFlow(deps.db, flowId);
    if (!current || current.run !== run) resolveEnded();
    else if (isTerminalFlowStatus(current.status)) {
      // Ended: its terminal event goes out right after that commit and normally ends the wait
      // at once. Waiting for it (a little) means a caller who acts on the answer — executes the
      // flow again — finds this run's events ahead of the next run's in the stream. If the
      // event never comes (its worker died after the commit), the stored end is enough.
      setTimeout(resolveEnded, TERMINAL_EVENT_GRACE_MS).unref();
    }
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
      if (signal?.aborted) resolve("timeout");
      signal?.addEventListener("abort", () => resolve("timeout"), { once: true });
    });
    if ((await Promise.race([ended, timedOut])) === "timeout") return null;
    const flow = await findFlow(deps.db, flowId);
    if (!flow || flow.run !== run || !isTerminalFlowStatus(flow.status)) return null;
    return flow.result as unknown as FlowExecutionResult;
  } finally {
    clearTimeout(timer);
    await stop();
  }
}
