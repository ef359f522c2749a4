import { labelOutputs } from "../planner/resolve-inputs.js";
import { createRunState, type RunInputs, type StepRecord } from "../planner/step-record.js";
import { PromptTooLargeError, renderTemplate } from "../template/prompt-template.js";
import type { CompiledFlow } from "../validation/compiled-flow.js";
import { placeholderResolver } from "./build-step-messages.js";

/**
 * What the approver of an approval step instance sees: its prompt template with every
 * placeholder filled in, as written (nothing attached). Outputs are shown whole: no token
 * budget applies to a person. Thread history is not read (validation refuses {{ history }}).
 */
export function renderApprovalPrompt(
  flow: CompiledFlow,
  records: readonly StepRecord[],
  inputs: RunInputs,
  stepId: string,
  iteration: number,
): string {
  const step = flow.byId.get(stepId);
  const state = createRunState(flow, records, inputs);
  if (step?.prompt.kind !== "template") return state.originalPrompt; // the bare prompt "original"
  const resolve = placeholderResolver(state, stepId, iteration, {
    output: (record) => record?.output ?? "",
    labelled: (shown) => labelOutputs(state, shown),
    history: "",
  });
  try {
    return renderTemplate(step.prompt.template, resolve);
  } catch (error) {
    // Whole outputs can add up past the limit: the step still waits, and says where they are.
    if (!(error instanceof PromptTooLargeError)) throw error;
    return `${error.message}; the outputs it places are in the flow's step results (GET /v1/flows/:flowId)`;
  }
}
