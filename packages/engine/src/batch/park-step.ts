import type { BatchRequestColumn, FlowRow, StepResultRow } from "@ensemble/db";
import { parkBatchedStep } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { transactWithEvents } from "../run/event-outbox.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";

/** A claimed batch-delivery attempt whose request is built: it goes in a batch instead of being called. */
export interface BatchRequestOutcome {
  status: "batch";
  provider: string;
  model: string;
  request: BatchRequestColumn;
  /** The step's batch deadline. */
  deadlineMs: number;
  /** The step's call timeout: past `deadlineMs - timeoutMs` it is called at once instead. */
  timeoutMs: number;
}

/**
 * The step becomes `batched` (its request kept for the scheduler's next batch of its provider
 * and model) and gives up its lease and worker slot; `step_batched` is committed with it
 * (outbox). "lease_lost": another worker took the step over meanwhile; nothing was written.
 */
export async function parkBatchStep(
  deps: RunDeps,
  flow: FlowRow,
  claimed: StepResultRow,
  outcome: BatchRequestOutcome,
): Promise<"batched" | "lease_lost"> {
  const effects = emptyEffects();
  const parked = await transactWithEvents(deps, effects.events, async (tx) => {
    const row = await parkBatchedStep(tx, {
      id: claimed.id,
      leaseToken: claimed.leaseToken,
      request: outcome.request,
      fallBackInMs: Math.max(0, outcome.deadlineMs - outcome.timeoutMs),
    });
    if (!row) return undefined;
    const batchedAt = row.batchedAt?.getTime() ?? Date.now();
    effects.events.push({
      flowId: flow.id,
      type: "step_batched",
      stepId: claimed.stepId,
      data: {
        iteration: claimed.iteration,
        attempt: claimed.attempt,
        provider: outcome.provider,
        model: outcome.model,
        deadline: new Date(batchedAt + outcome.deadlineMs).toISOString(),
      },
    });
    return row;
  });
  if (!parked) return "lease_lost";
  await performEffects(deps, effects);
  return "batched";
}
