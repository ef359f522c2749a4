import { referencedStepIds } from "../condition/condition-expression.js";
import type { ApprovalOutput, StepError } from "../schema/results.js";
import type { CompiledFlow } from "../validation/compiled-flow.js";

/** How a decided approval step is recorded. */
export interface ApprovalResult {
  status: "success" | "failed";
  output: string;
  error: StepError | null;
}

/**
 * A decision as the step's result. An approval succeeds; so does a rejection that a later
 * condition or the loop's `until` reads (the flow branches on it). A rejection nothing reads
 * fails the step with `rejected`, which ends the run `failed` unless the step is optional.
 */
export function approvalResult(flow: CompiledFlow, stepId: string, decided: ApprovalOutput): ApprovalResult {
  const output = JSON.stringify(decided);
  if (decided.decision === "approve" || rejectionHandled(flow, stepId))
    return { status: "success", output, error: null };
  const by = decided.decidedBy === null ? "its timeout" : "the approver";
  return {
    status: "failed",
    output,
    error: { code: "rejected", message: `approval step ${stepId} was rejected by ${by}`, retryable: false },
  };
}

/** Whether a condition of another step, or the loop's `until`, reads this step. */
export function rejectionHandled(flow: CompiledFlow, stepId: string): boolean {
  const sources = flow.steps.flatMap((s) =>
    s.id !== stepId && s.condition?.kind === "cel" ? [s.condition.condition.source] : [],
  );
  if (flow.loop) sources.push(flow.loop.until.source);
  return sources.some((source) => referencedStepIds(source).includes(stepId));
}

/** The decision recorded in an approval step's output; "" when it has none (not decided yet). */
export function approvalDecisionOf(output: string | null | undefined): string {
  if (!output) return "";
  try {
    const parsed: unknown = JSON.parse(output);
    const decision = typeof parsed === "object" && parsed !== null ? (parsed as { decision?: unknown }).decision : null;
    return decision === "approve" || decision === "reject" ? decision : "";
  } catch {
    return "";
  }
}
