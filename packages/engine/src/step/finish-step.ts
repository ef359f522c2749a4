import {
  addFlowTotals,
  completeStep,
  insertLedgerEntry,
  insertMessage,
  listRunSteps,
  lockFlow,
  newId,
  type StepResultRow,
} from "@ensemble/db";
import type { EngineDeps } from "../engine-deps.js";
import { advanceRun } from "../run/advance-run.js";
import { emptyEffects, performEffects, type RunEffects } from "../run/run-effects.js";
import type { StepOutcome } from "./step-outcome.js";

class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/**
 * Commits one attempt in one transaction: the step result (fenced by the lease
 * token), its ledger row, its thread message, the flow's totals — and, under the
 * flow's row lock, the next steps. Returns false when the lease was lost (another
 * worker owns the step now; nothing was written).
 */
export async function finishStep(deps: EngineDeps, claimed: StepResultRow, outcome: Exclude<StepOutcome, { status: "aborted" }>): Promise<boolean> {
  const effects: RunEffects = emptyEffects();
  try {
    await deps.db.transaction(async (tx) => {
      const flow = await lockFlow(tx, claimed.flowId);
      if (!flow) throw new LeaseLostError("flow deleted");
      const success = outcome.status === "success";
      const messageId = success && flow.saveMessages ? newId() : null;
      const usage = outcome.status === "skipped" ? undefined : outcome.usage;
      const cost = outcome.status === "skipped" ? null : (outcome.cost ?? null);
      const writes: Promise<unknown>[] = [
        completeStep(tx, {
          id: claimed.id,
          leaseToken: claimed.leaseToken,
          status: outcome.status,
          output: success ? outcome.output : null,
          ...(outcome.status !== "skipped" ? { provider: outcome.provider, model: outcome.model } : {}),
          usage: (usage as Record<string, number> | undefined) ?? null,
          cost,
          error: outcome.status === "failed" ? outcome.error : outcome.status === "skipped" ? { code: "skipped", message: outcome.reason } : null,
          messageId,
        }),
      ];
      // Postgres runs these in order on the transaction's connection; sent together, they cost one round trip.
      if (usage && outcome.status !== "skipped") {
        writes.push(
          insertLedgerEntry(tx, {
            stepResultId: claimed.id,
            attempt: claimed.attempt,
            flowId: flow.id,
            userId: flow.userId,
            provider: outcome.provider,
            model: outcome.model,
            promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens,
            cachedTokens: usage.cachedTokens ?? 0,
            reasoningTokens: usage.reasoningTokens ?? 0,
            cost,
          }),
          addFlowTotals(tx, flow.id, usage.totalTokens, cost ?? 0),
        );
      }
      if (messageId && outcome.status === "success") {
        writes.push(
          insertMessage(tx, {
            id: messageId,
            threadId: flow.threadId,
            role: "assistant",
            content: outcome.output,
            provider: outcome.provider,
            stepResultId: claimed.id,
            metadata: { orchestrationFlowId: flow.id, stepId: claimed.stepId, iteration: claimed.iteration, model: outcome.model },
          }),
        );
      }
      const rowsPromise = listRunSteps(tx, flow.id, claimed.run);
      const [completed] = (await Promise.all(writes)) as [StepResultRow | undefined];
      const rows = await rowsPromise;
      if (!completed) throw new LeaseLostError("lease lost");

      effects.events.push(stepEvent(claimed, outcome));
      if (flow.status !== "running" || flow.run !== claimed.run) return;
      await advanceRun(tx, flow, deps.flows.get(flow.id, flow.definition), rows, effects, { continuing: true });
    });
  } catch (error) {
    if (error instanceof LeaseLostError) return false;
    throw error;
  }
  await performEffects(deps, effects);
  return true;
}

function stepEvent(claimed: StepResultRow, outcome: Exclude<StepOutcome, { status: "aborted" }>): RunEffects["events"][number] {
  const base = { flowId: claimed.flowId, stepId: claimed.stepId };
  switch (outcome.status) {
    case "success":
      return {
        ...base,
        type: "step_complete",
        data: { iteration: claimed.iteration, attempt: claimed.attempt, output: outcome.output, provider: outcome.provider, model: outcome.model, usage: outcome.usage, cost: outcome.cost },
      };
    case "failed":
      return { ...base, type: "error", data: { iteration: claimed.iteration, attempt: claimed.attempt, error: outcome.error } };
    case "skipped":
      return { ...base, type: "step_skipped", data: { iteration: claimed.iteration, reason: outcome.reason } };
  }
}
