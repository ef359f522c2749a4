import { createRunState, type RunInputs, type StepRecord } from "../planner/step-record.js";
import type { CompiledFlow } from "../validation/compiled-flow.js";
import { buildStepMessages } from "./build-step-messages.js";

/**
 * What the approver of an approval step instance sees: its prompt rendered like a model
 * step's user message (the template, with the step's input attached when the template does
 * not place earlier outputs itself), under the flow's context policy. Thread history is not
 * read (validation refuses {{ history }} in approval prompts).
 */
export function renderApprovalPrompt(
  flow: CompiledFlow,
  records: readonly StepRecord[],
  inputs: RunInputs,
  stepId: string,
  iteration: number,
): string {
  const state = createRunState(flow, records, inputs);
  const { messages } = buildStepMessages(state, stepId, iteration);
  return messages.filter((m) => m.role === "user").map((m) => m.content).join("\n\n");
}
