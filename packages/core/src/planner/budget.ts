import type { FlowDefinition } from "../schema/flow-definition.js";
import type { StepError } from "../schema/results.js";

/** What a run has spent so far: every billed attempt, retries and failures included. */
export interface RunSpend {
  costUsd: number;
  tokens: number;
}

/** The `budget_exceeded` error once a run's spend reaches its budget; null while it is within it. */
export function budgetExceeded(budget: FlowDefinition["budget"], spent: RunSpend | undefined): StepError | null {
  if (!budget || !spent) return null;
  if (budget.maxCostUsd !== undefined && spent.costUsd >= budget.maxCostUsd) {
    return {
      code: "budget_exceeded",
      message: `the flow spent $${spent.costUsd.toFixed(6)}, reaching its budget of $${budget.maxCostUsd} (budget.maxCostUsd)`,
      retryable: false,
    };
  }
  if (budget.maxTokens !== undefined && spent.tokens >= budget.maxTokens) {
    return {
      code: "budget_exceeded",
      message: `the flow used ${spent.tokens} tokens, reaching its budget of ${budget.maxTokens} (budget.maxTokens)`,
      retryable: false,
    };
  }
  return null;
}
