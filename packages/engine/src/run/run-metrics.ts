import type { RunDeps } from "../engine-deps.js";
import type { EndedRun } from "./run-effects.js";

/**
 * Adds a run whose end was committed to the cluster-wide run duration histogram (served by
 * the API's /metrics). Fire and forget, as for steps: metrics must never slow down or fail
 * the commit's effects, so a Redis error is logged at debug level and dropped.
 */
export function recordRunMetrics(deps: RunDeps, ended: EndedRun): void {
  if (!deps.metrics) return;
  deps.metrics
    .recordRun({
      flowType: ended.flowType,
      status: ended.status,
      durationMs: ended.endedAt.getTime() - ended.startedAt.getTime(),
    })
    .catch((err: unknown) => deps.logger.debug({ err }, "run metrics not recorded"));
}
