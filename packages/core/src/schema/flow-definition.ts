import { z } from "zod";
import { ContextPolicySchema } from "./context-policy.js";
import { OrchestrationFlowTypeSchema, StepActionSchema, StepDeliverySchema } from "./enums.js";
import { FLOW_LIMITS } from "./limits.js";

/** Step ids appear in templates (`{{ steps.<id>.output }}`) and CEL (`steps.<id>`), so they stay identifier-like. */
export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Provider keys name a vendor or a configured OpenAI-compatible endpoint. */
export const PROVIDER_KEY_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

export const StepIdSchema = z
  .string()
  .regex(STEP_ID_PATTERN, "must start with a letter and hold only letters, digits and _ (at most 64)");

/** A function registered by name in a worker process (the SDK's way to keep `prompt: (ctx) => ...`). */
export const HookRefSchema = z.strictObject({
  hook: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/, "must be a registered hook name"),
});
export type HookRef = z.infer<typeof HookRefSchema>;

export const PromptSpecSchema = z.union([
  z
    .string()
    .min(1, "must not be empty")
    .max(FLOW_LIMITS.maxPromptChars, `must be at most ${FLOW_LIMITS.maxPromptChars} characters`),
  HookRefSchema,
]);
export type PromptSpec = z.infer<typeof PromptSpecSchema>;

export const ConditionSpecSchema = z.union([
  z
    .string()
    .min(1, "must not be empty")
    .max(FLOW_LIMITS.maxConditionChars, `must be at most ${FLOW_LIMITS.maxConditionChars} characters`),
  HookRefSchema,
]);
export type ConditionSpec = z.infer<typeof ConditionSpecSchema>;

export const StepSettingsSchema = z.strictObject({
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().max(1_000_000).optional(),
  topP: z.number().min(0).max(1).optional(),
  stopSequences: z.array(z.string().min(1).max(200)).max(8).optional(),
});
export type StepSettings = z.infer<typeof StepSettingsSchema>;

export const ProviderModelSchema = z.strictObject({
  provider: z.string().regex(PROVIDER_KEY_PATTERN, "must be a provider key such as openai, anthropic, google, sim"),
  model: z.string().min(1).max(200),
});
export type ProviderModel = z.infer<typeof ProviderModelSchema>;

/** How long a batch step may wait for its batch: milliseconds, or an ISO 8601 duration ("PT6H"). */
export const BatchDeadlineSchema = z.union([z.number(), z.string().min(1).max(40)]);

/** A step that calls a model (`kind` "llm", the default). */
export const LlmStepSchema = z.strictObject({
  kind: z.literal("llm").optional(),
  id: StepIdSchema,
  name: z.string().max(200).optional(),
  provider: ProviderModelSchema.shape.provider,
  model: ProviderModelSchema.shape.model,
  action: StepActionSchema,
  /** A template with `{{ placeholders }}`, the bare string "original", or `{ hook }`. */
  prompt: PromptSpecSchema,
  /** Optional system prompt (a template too). */
  systemPrompt: z.string().max(FLOW_LIMITS.maxPromptChars).optional(),
  /** What this step sees as `previous`: "previous" (default), "original", "all", or a step id. */
  inputFrom: z.string().min(1).max(64).optional(),
  /** Explicit dependencies; without them the flow type decides the order. */
  dependsOn: z.array(StepIdSchema).max(FLOW_LIMITS.maxSteps).optional(),
  /** Parallel flows: this step runs after all the others and sees every output. */
  aggregate: z.boolean().optional(),
  /** A failed optional step does not fail the flow. */
  optional: z.boolean().optional(),
  settings: StepSettingsSchema.optional(),
  retryOnFailure: z.boolean().optional(),
  maxRetries: z.number().int().min(0).max(FLOW_LIMITS.maxRetries).optional(),
  /** A CEL expression (or `{ hook }`); false skips the step. */
  condition: ConditionSpecSchema.optional(),
  /** Per-attempt timeout of the provider call, in milliseconds. */
  timeout: z.number().int().positive().max(FLOW_LIMITS.maxStepTimeoutMs).optional(),
  /** Tried in order when the primary's retries are spent on retryable errors. */
  fallbacks: z.array(ProviderModelSchema).max(FLOW_LIMITS.maxFallbacks).optional(),
  /** "batch": the first attempt goes in the provider's half-price batch (openai, anthropic). Default "sync". */
  delivery: StepDeliverySchema.optional(),
  /** With `delivery: "batch"`: how long the step may wait for its batch (default 24 h). */
  batchDeadline: BatchDeadlineSchema.optional(),
});

/** What a timed-out approval step decides (default "reject"). */
export const ApprovalTimeoutDecisionSchema = z.enum(["reject", "approve"]);
export const ApprovalDecisionSchema = z.enum(["approve", "reject"]);
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** A step that waits for a person's decision: no provider, no model, no worker while it waits. */
export const ApprovalStepSchema = z.strictObject({
  kind: z.literal("approval"),
  id: StepIdSchema,
  name: z.string().max(200).optional(),
  /** What the approver sees: a template, rendered like any prompt. */
  prompt: z
    .string()
    .min(1, "must not be empty")
    .max(FLOW_LIMITS.maxPromptChars, `must be at most ${FLOW_LIMITS.maxPromptChars} characters`),
  /** How long it waits, in milliseconds (default 24 h). */
  timeout: z.number().int().positive().max(FLOW_LIMITS.maxApprovalTimeoutMs).optional(),
  /** The decision taken when no one decides in time (default "reject"). */
  onTimeout: ApprovalTimeoutDecisionSchema.optional(),
  /** A JSON Schema for the `data` the approver sends. */
  responseSchema: z.record(z.string(), z.unknown()).optional(),
  inputFrom: LlmStepSchema.shape.inputFrom,
  dependsOn: LlmStepSchema.shape.dependsOn,
  aggregate: LlmStepSchema.shape.aggregate,
  /** A rejected optional step does not fail the flow. */
  optional: z.boolean().optional(),
  condition: ConditionSpecSchema.optional(),
});
export type ApprovalStep = z.infer<typeof ApprovalStepSchema>;
export type LlmStep = z.infer<typeof LlmStepSchema>;

/** One step of a flow, by `kind`: "llm" (the default) or "approval". */
export const FlowStepSchema = z.discriminatedUnion("kind", [LlmStepSchema, ApprovalStepSchema]);
export type FlowStep = z.infer<typeof FlowStepSchema>;

export function isApprovalStep(step: FlowStep): step is ApprovalStep {
  return step.kind === "approval";
}

/** Approval steps wait this long unless they set `timeout`. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** A bounded loop over consecutive steps (refinement flows build one from their presets). */
export const LoopSpecSchema = z.strictObject({
  /** The loop body, in order; run once per iteration. */
  steps: z.array(StepIdSchema).min(1).max(FLOW_LIMITS.maxSteps),
  /** CEL expression checked after `checkAfter` completes; true ends the loop. `previous` is that step's output. */
  until: z.string().min(1).max(FLOW_LIMITS.maxConditionChars),
  /** The body step after which `until` is checked (default: the last body step). */
  checkAfter: StepIdSchema.optional(),
  maxIterations: z.number().int().min(1).max(FLOW_LIMITS.maxIterations),
  /** Steps whose latest output is the current draft (`{{ draft }}`) and the flow's final output. */
  draftFrom: z.array(StepIdSchema).max(FLOW_LIMITS.maxSteps).optional(),
});
export type LoopSpec = z.infer<typeof LoopSpecSchema>;

export const FlowDefinitionSchema = z.strictObject({
  name: z.string().min(1, "must not be empty").max(200),
  description: z.string().max(2_000).optional(),
  type: OrchestrationFlowTypeSchema,
  steps: z
    .array(FlowStepSchema)
    .min(1, "a flow needs at least one step")
    .max(FLOW_LIMITS.maxSteps, `a flow has at most ${FLOW_LIMITS.maxSteps} steps`),
  contextPolicy: ContextPolicySchema.partial().optional(),
  /** Wall-clock limit of a run, in milliseconds; the run ends `timed_out`. */
  maxExecutionTime: z.number().int().positive().max(FLOW_LIMITS.maxExecutionTimeMs).optional(),
  /** Refinement flows: at most this many evaluations (default 3). */
  maxIterations: z.number().int().min(1).max(FLOW_LIMITS.maxIterations).optional(),
  /** Refinement flows: the score (0–1) at which a draft is accepted (default 0.8). */
  qualityThreshold: z.number().min(0).max(1).optional(),
  /** A loop for any flow type; refinement flows derive theirs when absent. */
  loop: LoopSpecSchema.optional(),
  /** The step whose output is the flow's final output (default: decided by the flow type). */
  output: StepIdSchema.optional(),
  /** Spend cap: when reached, the run ends `failed` with code `budget_exceeded`. */
  budget: z
    .strictObject({
      maxCostUsd: z.number().positive().optional(),
      maxTokens: z.number().int().positive().optional(),
    })
    .optional(),
});
export type FlowDefinition = z.infer<typeof FlowDefinitionSchema>;
/** What callers write: every defaulted field may be left out. */
export type FlowDefinitionInput = z.input<typeof FlowDefinitionSchema>;
