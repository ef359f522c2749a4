import type { FlowExecutionResult } from "@ensemble/core";

/**
 * `executeFlow` ran the flow but it did not complete: it failed, was cancelled or timed
 * out. `result` holds what the run produced (partial step results included), as
 * `GET /v1/flows/:flowId` shows it.
 */
export class FlowExecutionError extends Error {
  override readonly name = "FlowExecutionError";
  readonly flowId: string;
  readonly status: FlowExecutionResult["status"];

  constructor(readonly result: FlowExecutionResult) {
    const reason = result.error
      ? `: ${result.error.code}${result.error.stepId ? ` at step ${result.error.stepId}` : ""} — ${result.error.message}`
      : "";
    super(`flow ${result.flowId} ended ${result.status}${reason}`);
    this.flowId = result.flowId;
    this.status = result.status;
  }
}
