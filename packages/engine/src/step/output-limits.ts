import { FLOW_LIMITS, type StepError } from "@ensemble/core";
import type { StepResultRow } from "@ensemble/db";

/**
 * What one attempt may produce, under `FLOW_LIMITS`: its own cap, and what is left of
 * the run's. Parallel steps each measure against the outputs committed when they were
 * claimed, so a fan-out may pass the run's cap by at most one step's output per branch.
 */
export interface OutputBudget {
  chars: number;
  /** Which cap `chars` is: the step's own or the rest of the run's. */
  limitedBy: "step" | "run";
}

export function outputBudget(rows: readonly StepResultRow[], claimedId: string): OutputBudget {
  let used = 0;
  for (const row of rows) if (row.id !== claimedId && row.output !== null) used += row.output.length;
  const runLeft = FLOW_LIMITS.maxRunOutputChars - used;
  return runLeft < FLOW_LIMITS.maxStepOutputChars
    ? { chars: Math.max(runLeft, 0), limitedBy: "run" }
    : { chars: FLOW_LIMITS.maxStepOutputChars, limitedBy: "step" };
}

/** The abort reason of a call whose streamed output passed its budget. */
export class OutputLimitReached extends Error {
  override readonly name = "OutputLimitReached";
  constructor(readonly budget: OutputBudget) {
    super("output limit reached");
  }
}

/** The step error for an output over its budget (the output itself is not stored). */
export function outputTooLarge(stepId: string, budget: OutputBudget): StepError {
  if (budget.limitedBy === "step") {
    return {
      code: "output_too_large",
      message: `step "${stepId}": the output passed the limit of ${FLOW_LIMITS.maxStepOutputChars} characters per step (maxStepOutputChars); the call was stopped`,
      retryable: false,
    };
  }
  return {
    code: "run_output_too_large",
    message: `step "${stepId}": the run's outputs together would pass the limit of ${FLOW_LIMITS.maxRunOutputChars} characters (maxRunOutputChars)`,
    retryable: false,
  };
}

/** The step error for a request over `maxRenderedPromptChars` (`chars` when it was built in full). */
export function promptTooLarge(stepId: string, chars?: number): StepError {
  const size = chars === undefined ? " is" : ` is ${chars} characters,`;
  return {
    code: "prompt_too_large",
    message: `step "${stepId}": the request after templates${size} over the limit of ${FLOW_LIMITS.maxRenderedPromptChars} characters (maxRenderedPromptChars)`,
    retryable: false,
  };
}
