/**
 * Caps on a flow definition. They keep one tenant's definition from costing the
 * cluster unbounded memory or CPU; raise them here, in one place, if you must.
 */
export const FLOW_LIMITS = {
  maxSteps: 50,
  maxPromptChars: 20_000,
  maxConditionChars: 1_000,
  maxIterations: 20,
  maxRetries: 10,
  maxStepTimeoutMs: 60 * 60 * 1000,
  maxExecutionTimeMs: 24 * 60 * 60 * 1000,
  maxFallbacks: 5,
  maxSharedTokens: 1_000_000,
  /** Run time of one condition evaluation; over it, the step fails with `condition_error`. */
  conditionTimeBudgetMs: 100,
  /** Run time of all condition evaluations of one planning pass (after each step ends). */
  conditionPlanBudgetMs: 1_000,
  /** Longest string a condition's join() may build. */
  maxConditionStringChars: 100_000,
} as const;
