import { currentDraft, labelOutputs } from "./resolve-inputs.js";
import { latestSuccess, type RunState, type StepRecord } from "./step-record.js";

/** The flow's final output under its output rule; null when no step produced one. */
export function finalOutput(state: RunState): string | null {
  const rule = state.flow.output;
  switch (rule.kind) {
    case "step":
      return latestSuccess(state, rule.stepId)?.output ?? null;
    case "draft":
      return currentDraft(state) || null;
    case "all": {
      const outputs = state.flow.steps.flatMap((step) => latestSuccess(state, step.id) ?? []);
      return outputs.length ? labelOutputs(state, outputs) : null;
    }
    case "last": {
      let last: StepRecord | undefined;
      for (const step of state.flow.steps) last = latestSuccess(state, step.id) ?? last;
      return last?.output ?? null;
    }
  }
}
