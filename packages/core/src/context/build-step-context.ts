import { stepInput } from "../planner/resolve-inputs.js";
import { latestSuccess, type RunState } from "../planner/step-record.js";
import type { ConversationMessage, FlowStepResult, StepContext } from "../schema/results.js";

export interface StepContextExtras {
  flowId: string;
  threadHistory: ConversationMessage[];
  allStepResults: FlowStepResult[];
}

/** The StepContext of a step instance: what prompt and condition hooks receive. */
export function buildStepContext(
  state: RunState,
  stepId: string,
  iteration: number,
  extras: StepContextExtras,
): StepContext {
  const previousStepOutputs: Record<string, string> = {};
  for (const step of state.flow.steps) {
    const record = latestSuccess(state, step.id);
    if (record && step.id !== stepId) previousStepOutputs[step.id] = record.output ?? "";
  }
  const step = state.flow.byId.get(stepId);
  const hasUpstream = Object.keys(previousStepOutputs).length > 0;
  return {
    flowId: extras.flowId,
    stepId,
    stepIndex: step?.index ?? 0,
    iteration,
    originalPrompt: state.originalPrompt,
    ...(hasUpstream || step?.inputFrom === "original"
      ? { previousStepOutput: stepInput(state, stepId, iteration) }
      : {}),
    previousStepOutputs,
    allStepResults: extras.allStepResults,
    threadHistory: state.flow.policy.shareConversationHistory ? extras.threadHistory : [],
    metadata: state.metadata,
  };
}
