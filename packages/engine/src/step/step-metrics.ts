import type { EngineDeps } from "../engine-deps.js";
import type { StepOutcome } from "./step-outcome.js";

/**
 * Adds a committed attempt to the cluster-wide step metrics (served by the API's /metrics).
 * Fire and forget: metrics must never slow down or fail a step, so a Redis error is logged
 * at debug level and dropped. Skipped steps made no provider call and are not counted.
 */
export function recordStepMetrics(deps: EngineDeps, outcome: StepOutcome, durationMs: number): void {
  if (!deps.metrics || (outcome.status !== "success" && outcome.status !== "failed")) return;
  deps.metrics
    .recordStep({
      provider: outcome.provider,
      model: outcome.model,
      status: outcome.status,
      ...(outcome.status === "failed" ? { errorCode: outcome.error.code } : {}),
      durationMs,
      promptTokens: outcome.usage?.promptTokens ?? 0,
      completionTokens: outcome.usage?.completionTokens ?? 0,
      costUsd: outcome.cost ?? null,
    })
    .catch((err: unknown) => deps.logger.debug({ err }, "step metrics not recorded"));
}
