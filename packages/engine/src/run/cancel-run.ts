import { cancelOpenSteps, listRunSteps, lockFlow, updateFlow } from "@ensemble/db";
import type { CancelReason } from "@ensemble/queue";
import { transactWithEvents } from "./event-outbox.js";
import type { RunDeps } from "../engine-deps.js";
import { buildExecutionResult, endedRun, runSpend } from "./records.js";
import { emptyEffects, performEffects } from "./run-effects.js";

/**
 * `flow.cancel`: ends a run `cancelled` (a user's cancel) or `timed_out` (its
 * deadline passed). Open steps (waiting approval steps too) become cancelled, running provider calls are aborted
 * cluster-wide, and results so far are kept.
 */
export async function cancelRun(deps: RunDeps, flowId: string, run: number, reason: CancelReason): Promise<void> {
  const effects = emptyEffects();
  await transactWithEvents(deps, effects.events, async (tx) => {
    const flow = await lockFlow(tx, flowId);
    if (!flow || flow.run !== run) return;
    if (!["pending", "queued", "running", "waiting"].includes(flow.status)) return;
    const running = await cancelOpenSteps(tx, flowId, run);
    const now = new Date();
    const error = reason === "timed_out" ? { code: "timed_out", message: "the flow ran past its time limit" } : null;
    const status = reason;
    const rows = await listRunSteps(tx, flowId, run);
    const result = buildExecutionResult({ ...flow, status, completedAt: now, error }, rows, null);
    const spent = runSpend(flow, rows);
    await updateFlow(tx, flowId, {
      status,
      completedAt: now,
      error,
      result: result,
      totalCost: spent.costUsd,
      totalTokens: spent.tokens,
    });
    if (running.length > 0) effects.abortFlows.push({ flowId, reason });
    effects.events.push(
      reason === "cancelled"
        ? { flowId, type: "flow_cancelled", data: { status: reason, cancelledSteps: running.map((r) => r.stepId) } }
        : { flowId, type: "flow_failed", data: { status: reason, error } },
    );
    effects.archiveFlows.push(flowId);
    effects.endedRuns.push(endedRun(flow, status, now, error, result));
  });
  await performEffects(deps, effects);
}
