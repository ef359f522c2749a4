import { computeCost, estimateCutOffUsage, type ChatMessage } from "@ensemble/core";
import { recordCutOffCall, type FlowRow, type StepResultRow } from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";

/** A provider call a lost lease cut off, as the worker that made it saw it. */
export interface CutOffCall {
  flow: FlowRow;
  /** The instance as this worker claimed it: its attempt and the lease it lost. */
  claimed: StepResultRow;
  stepId: string;
  provider: string;
  model: string;
  messages: readonly ChatMessage[];
  /** The output streamed until the cut. */
  streamed: string;
  callMs: number;
}

/** Tries of the write (the row is unique per lost lease, so a retry never writes it twice). */
const WRITE_TRIES = 3;
const RETRY_DELAY_MS = 200;

/**
 * The vendor may bill a call although no result is committed for it: logs what is known of
 * it and records it in cut_off_calls, its tokens estimated and priced at the price table,
 * so spend caps, GET /v1/usage and the run's totals count it. The step's row is the new lease
 * holder's and is not touched. Never throws: a write that fails is logged.
 */
export async function recordCutOffProviderCall(deps: EngineDeps, call: CutOffCall): Promise<void> {
  const { flow, claimed, provider, model } = call;
  const usage = estimateCutOffUsage(call.messages, call.streamed);
  const priced = computeCost(usage, provider, model, deps.prices);
  const context = {
    flowId: flow.id,
    stepId: call.stepId,
    iteration: claimed.iteration,
    attempt: claimed.attempt,
    leaseToken: claimed.leaseToken,
    provider,
    model,
    requestChars: call.messages.reduce((sum, m) => sum + m.content.length, 0),
    streamedChars: call.streamed.length,
    callMs: call.callMs,
    estimatedPromptTokens: usage.promptTokens,
    estimatedCompletionTokens: usage.completionTokens,
    estimatedCostUsd: priced.cost,
  };
  deps.logger.warn(context, "provider call cut off by a lost lease; it may still be billed");
  if (priced.warning) deps.logger.warn({ provider, model }, priced.warning);
  const row = {
    stepResultId: claimed.id,
    attempt: claimed.attempt,
    leaseToken: claimed.leaseToken,
    flowId: flow.id,
    run: claimed.run,
    userId: flow.executedBy ?? flow.userId,
    provider,
    model,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    cost: priced.cost,
  };
  for (let tried = 1; ; tried += 1) {
    try {
      await recordCutOffCall(deps.db, row);
      return;
    } catch (err) {
      if (tried >= WRITE_TRIES) {
        deps.logger.error({ err, ...context }, "cut-off provider call not recorded");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * tried));
    }
  }
}
