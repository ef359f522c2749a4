import { z } from "zod";
import { OrchestrationFlowStatusSchema, OrchestrationStepStatusSchema, StepActionSchema } from "./enums.js";
import { ApprovalDecisionSchema } from "./flow-definition.js";

/** A timestamp as the API sends it: ISO 8601, or null where there is none yet. */
export function isoOrNull(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

export const TokenUsageSchema = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  totalTokens: z.number().int().nonnegative(),
  /** Part of promptTokens the vendor read from its prompt cache, where it reports them. */
  cachedTokens: z.number().int().nonnegative().optional(),
  /** Part of promptTokens the vendor wrote to its prompt cache (billed at the cache-write price), where it reports them. */
  cacheWriteTokens: z.number().int().nonnegative().optional(),
  /** Part of cacheWriteTokens written as 1-hour entries (Anthropic; billed at the 1-hour write price). */
  cacheWrite1hTokens: z.number().int().nonnegative().optional(),
  /** Hidden reasoning tokens, where the vendor reports them (billed as output). */
  reasoningTokens: z.number().int().nonnegative().optional(),
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

export const StepErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean().optional(),
});
export type StepError = z.infer<typeof StepErrorSchema>;

export const FlowStepResultSchema = z.object({
  stepId: z.string(),
  status: OrchestrationStepStatusSchema,
  output: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  action: StepActionSchema,
  /** 0 for steps outside a loop; 1, 2, … for each loop iteration. */
  iteration: z.number().int().nonnegative(),
  usage: TokenUsageSchema.nullable(),
  /** USD; null when the model has no known price. */
  cost: z.number().nullable(),
  retryCount: z.number().int().nonnegative(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  error: StepErrorSchema.optional(),
  /** A rerun's step copied from this run's: no provider call, no cost. */
  reusedFrom: z.number().int().positive().optional(),
});
export type FlowStepResult = z.infer<typeof FlowStepResultSchema>;

export const FlowExecutionResultSchema = z.object({
  flowId: z.string(),
  status: OrchestrationFlowStatusSchema,
  finalOutput: z.string().nullable(),
  steps: z.array(FlowStepResultSchema),
  totalCost: z.number(),
  totalTokens: z.number().int().nonnegative(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  error: StepErrorSchema.extend({ stepId: z.string().optional() }).optional(),
});
export type FlowExecutionResult = z.infer<typeof FlowExecutionResultSchema>;

export const MessageRoleSchema = z.enum(["user", "assistant", "system"]);
export type MessageRole = z.infer<typeof MessageRoleSchema>;

export const ConversationMessageSchema = z.object({
  role: MessageRoleSchema,
  content: z.string(),
  /** The provider that wrote an assistant message, if known (data-sharing checks use it). */
  provider: z.string().optional(),
});
export type ConversationMessage = z.infer<typeof ConversationMessageSchema>;

/** What a step (and a prompt hook) sees of its run. Conditions and hooks read it; `iteration` says which loop pass this is. */
export interface StepContext {
  flowId: string;
  stepId: string;
  stepIndex: number;
  iteration: number;
  originalPrompt: string;
  previousStepOutput?: string;
  previousStepOutputs: Record<string, string>;
  allStepResults: FlowStepResult[];
  threadHistory: ConversationMessage[];
  metadata: Record<string, unknown>;
}

/** A stored step result as clients see it. */
export const OrchestrationStepResultSchema = z.object({
  id: z.string(),
  flowId: z.string(),
  stepId: z.string(),
  iteration: z.number().int().nonnegative(),
  messageId: z.string().nullable(),
  status: OrchestrationStepStatusSchema,
  output: z.string().nullable(),
  metadata: z
    .object({
      provider: z.string(),
      model: z.string(),
      action: StepActionSchema,
      usage: TokenUsageSchema.nullable(),
      cost: z.number().nullable(),
      retryCount: z.number().int().nonnegative(),
    })
    .nullable(),
  executedAt: z.string(),
});
export type OrchestrationStepResult = z.infer<typeof OrchestrationStepResultSchema>;

/** Per caller and provider: what may be sent to that provider. */
export const DataSharingPolicySchema = z.object({
  providerKey: z.string(),
  allowConversationHistory: z.boolean(),
  allowCrossProviderContext: z.boolean(),
  allowAttachments: z.boolean(),
});
export type DataSharingPolicy = z.infer<typeof DataSharingPolicySchema>;

export const TimeoutConfigSchema = z.strictObject({
  flowMs: z.number().int().positive().optional(),
  stepMs: z.number().int().positive().optional(),
});
export type TimeoutConfig = z.infer<typeof TimeoutConfigSchema>;

/** An approval step's output (stored as JSON, the step's `output`): what was decided, by whom, when. */
export const ApprovalOutputSchema = z.object({
  decision: ApprovalDecisionSchema,
  data: z
    .unknown()
    .describe("the approver's data (checked against the step's responseSchema); null when none was sent"),
  comment: z.string().nullable(),
  decidedBy: z.string().nullable().describe("the deciding user's id; null when the step's timeout decided"),
  decidedAt: z.string().describe("ISO 8601"),
});
export type ApprovalOutput = z.infer<typeof ApprovalOutputSchema>;
