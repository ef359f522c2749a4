import { finishStepWrites, type StepResultRow } from "@ensemble/db";
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
export async function finishStep(
  deps: EngineDeps,
  claimed: StepResultRow,
  outcome: Exclude<StepOutcome, { status: "aborted" | "deferred" }>,
  /** Called once committed, in the same turn as the effects are sent (they can share a write). */
  onCommitted?: () => void,
): Promise<boolean> {
  const effects: RunEffects = emptyEffects();
  try {
    await deps.transact(async (tx, control) => {
      const finished = await finishStepWrites(tx, {
        id: claimed.id,
        flowId: claimed.flowId,
        run: claimed.run,
        attempt: claimed.attempt,
        leaseToken: claimed.leaseToken,
        status: outcome.status,
        output: outcome.status === "success" ? outcome.output : null,
        provider: outcome.status === "skipped" ? claimed.provider : outcome.provider,
        model: outcome.status === "skipped" ? claimed.model : outcome.model,
        usage: outcome.status === "skipped" ? null : (outcome.usage ?? null),
        cost: outcome.status === "skipped" ? null : (outcome.cost ?? null),
        error: outcome.status === "failed" ? outcome.error : outcome.status === "skipped" ? { code: "skipped", message: outcome.reason } : null,
      });
      if (!finished) throw new LeaseLostError("lease lost");
      effects.events.push(stepEvent(claimed, outcome));
      const { rows } = finished;
      // The locked row was read before this attempt's totals were added: add them for the budget check.
      const billed = outcome.status !== "skipped" && outcome.usage;
      const flow = billed
        ? { ...finished.flow, totalCost: finished.flow.totalCost + (outcome.cost ?? 0), totalTokens: finished.flow.totalTokens + (billed.totalTokens ?? 0) }
        : finished.flow;
      if (flow.status !== "running" || flow.run !== claimed.run) return;
      await advanceRun(tx, flow, deps.flows.forRun(flow), rows, effects, { continuing: true, control });
    });
  } catch (error) {
    if (error instanceof LeaseLostError) return false;
    throw error;
  }
  onCommitted?.();
  await performEffects(deps, effects);
  return true;
}

function stepEvent(claimed: StepResultRow, outcome: Exclude<StepOutcome, { status: "aborted" | "deferred" }>): RunEffects["events"][number] {
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
