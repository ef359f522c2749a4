import { computeCost } from "@ensemble/core";
import {
  claimBatchedStep,
  endStepBatch,
  findStepBatch,
  listBatchedSteps,
  listRunSteps,
  recordBatchPolled,
  recordBatchSubmitted,
  type StepBatchRow,
  type StepResultRow,
} from "@ensemble/db";
import {
  ProviderError,
  type ProviderBatchApi,
  type ProviderBatchItem,
  type ProviderBatchRequest,
  type ProviderCallResult,
} from "@ensemble/providers";
import type { JobPayload } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";
import { finishStep } from "../step/finish-step.js";
import { outputBudget, outputTooLarge } from "../step/output-limits.js";
import { recordStepMetrics } from "../step/step-metrics.js";
import type { StepOutcome } from "../step/step-outcome.js";
import { fallBackToSync, type BatchFallbackReason } from "./fall-back.js";

/** How long one call to a vendor's batch API (an upload, a results download) may take. */
const BATCH_CALL_TIMEOUT_MS = 120_000;

/** The provider's batch API in this worker; without one (a misconfigured pool) the batch's steps are called at once. */
function batchApi(deps: EngineDeps, provider: string): ProviderBatchApi | undefined {
  return deps.providers.has(provider) ? deps.providers.get(provider).batch : undefined;
}

/**
 * `batch.submit`, on a worker serving the batch's provider: sends the batch's steps (those
 * still batched) to the vendor, each named by its step instance's id (`custom_id`), then
 * records the vendor's batch id. The batch was recorded `submitting` before (by the
 * scheduler), so a submit that dies before recording is sent again by its redelivery; the
 * vendor then holds a batch no one polls, whose results are never applied (nor billed).
 */
export async function submitBatch(deps: EngineDeps, payload: JobPayload<"batch.submit">): Promise<string> {
  const batch = await findStepBatch(deps.db, payload.batchId);
  if (batch?.state !== "submitting") return "not_submitting";
  const steps = await listBatchedSteps(deps.db, batch.id);
  if (steps.length === 0) {
    await endStepBatch(deps.db, batch.id, "cancelled");
    return "empty";
  }
  const api = batchApi(deps, batch.provider);
  if (!api) return fallBackBatch(deps, batch, steps, "no_batch_api");
  let providerBatchId: string;
  try {
    providerBatchId = await api.submit(steps.map(batchRequest), AbortSignal.timeout(BATCH_CALL_TIMEOUT_MS));
  } catch (error) {
    // Refused for good (a bad request, a key without batch access): the steps are called one by one.
    if (error instanceof ProviderError && !error.retryable) {
      deps.logger.warn({ batchId: batch.id, code: error.code, message: error.message }, "provider refused a batch");
      return fallBackBatch(deps, batch, steps, "batch_refused");
    }
    throw error;
  }
  await recordBatchSubmitted(deps.db, batch.id, providerBatchId);
  deps.logger.info(
    { batchId: batch.id, providerBatchId, provider: batch.provider, model: batch.model, steps: steps.length },
    "batch submitted",
  );
  return "submitted";
}

function batchRequest(row: StepResultRow): ProviderBatchRequest {
  const request = row.batchRequest ?? { model: row.model, messages: [], settings: {} };
  return {
    customId: row.id,
    model: request.model,
    messages: request.messages,
    settings: request.settings,
    trace: { flowId: row.flowId, stepId: row.stepId, iteration: row.iteration, attempt: row.attempt },
  };
}

/**
 * `batch.poll`: where the vendor's batch stands. Once it has ended, each step still batched in
 * it gets its result (applied once, at the batch price, through the normal step end) or, for
 * an item that errored or was not run, a synchronous call. A batch whose steps were all
 * cancelled (or fell back) is cancelled at the vendor instead.
 */
export async function pollBatch(deps: EngineDeps, payload: JobPayload<"batch.poll">): Promise<string> {
  const batch = await findStepBatch(deps.db, payload.batchId);
  if (batch?.state !== "submitted" || !batch.providerBatchId) return "not_open";
  const api = batchApi(deps, batch.provider);
  const steps = await listBatchedSteps(deps.db, batch.id);
  if (!api) return fallBackBatch(deps, batch, steps, "no_batch_api");
  const signal = AbortSignal.timeout(BATCH_CALL_TIMEOUT_MS);
  if (steps.length === 0) {
    await api.cancel(batch.providerBatchId, signal).catch((err: unknown) => {
      // Its results, if it still brings some, are dropped: no step waits for them.
      deps.logger.warn({ err, batchId: batch.id }, "provider batch not cancelled");
    });
    await endStepBatch(deps.db, batch.id, "cancelled");
    return "cancelled";
  }
  const state = await api.poll(batch.providerBatchId, signal);
  if (state.state === "in_progress") {
    await recordBatchPolled(deps.db, batch.id);
    return "in_progress";
  }
  const items = new Map(state.items.map((item) => [item.customId, item]));
  const fallBacks = new Map<BatchFallbackReason, StepResultRow[]>();
  let applied = 0;
  for (const row of steps) {
    const item = items.get(row.id);
    if (item?.outcome === "succeeded") {
      if (await applyBatchResult(deps, batch, row, item.result)) applied += 1;
      continue;
    }
    const reason = fallbackReason(item);
    fallBacks.set(reason, [...(fallBacks.get(reason) ?? []), row]);
  }
  for (const [reason, rows] of fallBacks) await fallBackToSync(deps, rows, reason, batch.id);
  await endStepBatch(deps.db, batch.id, "ended");
  deps.logger.info({ batchId: batch.id, applied, fellBack: steps.length - applied }, "batch ended");
  return "ended";
}

function fallbackReason(item: ProviderBatchItem | undefined): BatchFallbackReason {
  if (item?.outcome === "errored") return "item_errored";
  if (item?.outcome === "not_run") return `batch_${item.reason}`;
  return "batch_failed";
}

/**
 * Applies one answer: the step is taken (`running`, a new lease token) only while it is still
 * batched in this batch — a cancelled step's answer is dropped, never billed — and then ends
 * through the normal step end (result, ledger row at the batch price, the run's next steps).
 */
async function applyBatchResult(
  deps: EngineDeps,
  batch: StepBatchRow,
  row: StepResultRow,
  result: ProviderCallResult,
): Promise<boolean> {
  const claimed = await claimBatchedStep(deps.db, {
    id: row.id,
    batchId: batch.id,
    owner: deps.workerId,
    leaseMs: deps.settings.stepLeaseMs,
  });
  if (!claimed) return false;
  const model = result.model || batch.model;
  const priced = computeCost(result.usage, batch.provider, model, deps.prices, { batch: true });
  if (priced.warning) deps.logger.warn({ provider: batch.provider, model }, priced.warning);
  // The same output limits as a synchronous call: the answer is billed, but an output over
  // the step's or the run's budget fails the step and is not stored.
  const budget = outputBudget(await listRunSteps(deps.db, claimed.flowId, claimed.run), claimed.id);
  const outcome: StepOutcome =
    result.text.length > budget.chars
      ? {
          status: "failed",
          provider: batch.provider,
          model,
          usage: result.usage,
          cost: priced.cost,
          error: outputTooLarge(claimed.stepId, budget),
        }
      : {
          status: "success",
          output: result.text,
          usage: result.usage,
          cost: priced.cost,
          provider: batch.provider,
          model,
        };
  const startedAt = performance.now();
  const finished = await finishStep(deps, claimed, outcome, {
    onCommitted: () => recordStepMetrics(deps, outcome, performance.now() - startedAt),
  });
  return finished.committed;
}

async function fallBackBatch(
  deps: EngineDeps,
  batch: StepBatchRow,
  steps: readonly StepResultRow[],
  reason: BatchFallbackReason,
): Promise<string> {
  await fallBackToSync(deps, steps, reason, batch.id);
  await endStepBatch(deps.db, batch.id, "failed");
  return reason;
}
