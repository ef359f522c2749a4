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
  /** How long an approval step may wait for its decision (30 days). */
  maxApprovalTimeoutMs: 30 * 24 * 60 * 60 * 1000,
  /** An approval step's responseSchema, as JSON, in characters. */
  maxResponseSchemaChars: 20_000,
  maxSharedTokens: 1_000_000,
  /** Run time of one condition evaluation; over it, the step fails with `condition_error`. */
  conditionTimeBudgetMs: 100,
  /** Run time of all condition evaluations of one planning pass (after each step ends). */
  conditionPlanBudgetMs: 1_000,
  /** Longest string a condition's join() may build. */
  maxConditionStringChars: 100_000,
  /** Execute `input` (the original request), in characters. */
  maxInputChars: 200_000,
  /**
   * One step's request as sent to its provider (system prompt, history and the user
   * message after templates), in characters: ~500k tokens, beyond every current context
   * window but Gemini's. Enforced when the request is built; over it the step fails with
   * `prompt_too_large`. Validation also refuses a prompt whose worst case (below) is over it.
   */
  maxRenderedPromptChars: 2_000_000,
  /**
   * One step's output, in characters; streamed output past it aborts the call and the
   * step fails with `output_too_large` (the output is not stored).
   */
  maxStepOutputChars: 1_000_000,
  /**
   * All outputs of one run together (every step and loop iteration), in characters; a
   * step whose output would pass it fails with `run_output_too_large`. Bounds what a run
   * stores and what GET /v1/flows/:flowId and `?wait=true` return.
   */
  maxRunOutputChars: 4_000_000,
} as const;

/**
 * Characters per token assumed when validation estimates the worst case of a prompt that
 * places shared context (`{{ all }}`, `{{ previous }}`, …): `maxSharedTokens` of it. A
 * typical average for English under BPE; the run-time check is the exact one.
 */
export const ESTIMATED_CHARS_PER_TOKEN = 4;
