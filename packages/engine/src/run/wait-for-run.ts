import type { FlowExecutionResult } from "@ensemble/core";
import { findFlow } from "@ensemble/db";
import { followEvents } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";

const TERMINAL_EVENTS = new Set(["flow_complete", "flow_failed", "flow_cancelled"]);
const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled", "timed_out"]);

/**
 * Resolves with a run's FlowExecutionResult once it ends, or null after `timeoutMs`.
 * It follows the flow's events from `afterEventId` (no polling) and re-checks the
 * database once subscribed, so a run that ended in between is not missed.
 */
export async function waitForRun(deps: EngineDeps, flowId: string, run: number, afterEventId: number, timeoutMs: number): Promise<FlowExecutionResult | null> {
  let resolveEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const stop = await followEvents(deps.bus, flowId, afterEventId, (event) => {
    if (TERMINAL_EVENTS.has(event.type)) resolveEnded();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const current = await findFlow(deps.db, flowId);
    if (!current || current.run !== run || TERMINAL_STATUSES.has(current.status)) resolveEnded();
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    if ((await Promise.race([ended, timedOut])) === "timeout") return null;
    const flow = await findFlow(deps.db, flowId);
    if (!flow || flow.run !== run || !TERMINAL_STATUSES.has(flow.status)) return null;
    return flow.result as unknown as FlowExecutionResult;
  } finally {
    clearTimeout(timer);
    await stop();
  }
}
