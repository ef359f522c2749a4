import type { ValidationIssue } from "../errors/validation-error.js";
import type { FlowDefinition } from "../schema/flow-definition.js";
import { compileFlow, type CompileFlowResult } from "../validation/compile-flow.js";

/** An execute's `"delivery": "batch"`: every model step of the run that sets no delivery of its own goes in a batch. */
export interface RunBatchDelivery {
  batchDeadline?: number | string;
}

const STEP_FIELD = /^steps\[(\d+)\]\.(delivery|batchDeadline)$/;

/**
 * The run's definition with batch delivery on every model step that does not choose its own,
 * validated as a whole. Issues name the execute's fields (`delivery`: a step whose provider
 * has no batch API, named in the message; `batchDeadline`), as the caller wrote them.
 */
export function applyRunBatchDelivery(definition: FlowDefinition, delivery: RunBatchDelivery): CompileFlowResult {
  const merged: FlowDefinition = {
    ...definition,
    steps: definition.steps.map((step) =>
      step.kind === "approval" || step.delivery !== undefined
        ? step
        : {
            ...step,
            delivery: "batch",
            ...(delivery.batchDeadline !== undefined ? { batchDeadline: delivery.batchDeadline } : {}),
          },
    ),
  };
  const result = compileFlow(merged);
  if (result.ok) return result;
  return { ok: false, issues: result.issues.map((issue) => inExecuteTerms(issue, definition)) };
}

function inExecuteTerms(issue: ValidationIssue, definition: FlowDefinition): ValidationIssue {
  const match = STEP_FIELD.exec(issue.path);
  const step = match ? definition.steps[Number(match[1])] : undefined;
  if (!match || !step || (step.kind !== "approval" && step.delivery !== undefined)) return issue;
  return { path: match[2] as string, message: `step ${step.id}: ${issue.message}` };
}
