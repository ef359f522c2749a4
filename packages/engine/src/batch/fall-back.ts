import { fallBackBatchedSteps, findFlow, type FlowRow, type StepResultRow } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";
import { stepJobOf } from "../run/step-dispatch.js";

/**
 * Why a batched step is called at once instead: its batch failed or expired or was cancelled
 * by the vendor, its own request errored, or its deadline (less its timeout) came.
 */
export type BatchFallbackReason =
  "deadline" | "item_errored" | "batch_failed" | "batch_expired" | "batch_cancelled" | "batch_refused" | "no_batch_api";

/**
 * Sends batched steps (still batched — in `batchId`, when given) through the normal
 * synchronous call: back to `pending` with the reason, and a step job of their own
 * (`batchFallback`: a job id apart from the job that batched them, which BullMQ may keep).
 */
export async function fallBackToSync(
  deps: RunDeps,
  steps: readonly Pick<StepResultRow, "id">[],
  reason: BatchFallbackReason,
  batchId?: string,
): Promise<number> {
  const moved = await fallBackBatchedSteps(deps.db, {
    ids: steps.map((s) => s.id),
    reason,
    ...(batchId ? { batchId } : {}),
  });
  if (moved.length === 0) return 0;
  const effects = emptyEffects();
  const flows = new Map<string, FlowRow | undefined>();
  for (const row of moved) {
    if (!flows.has(row.flowId)) flows.set(row.flowId, await findFlow(deps.db, row.flowId));
    const flow = flows.get(row.flowId);
    // A run that moved on cancelled its open steps; nothing to call for another run.
    if (!flow || flow.run !== row.run) continue;
    effects.jobs.push({
      name: "step.run",
      payload: stepJobOf(flow, deps.flows.forRun(flow), row, true),
      lifo: true,
    });
  }
  deps.logger.info({ steps: moved.length, reason, batchId }, "batched steps sent to a synchronous call");
  await performEffects(deps, effects);
  return moved.length;
}
