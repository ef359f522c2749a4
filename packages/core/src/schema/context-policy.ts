import { z } from "zod";
import { FLOW_LIMITS } from "./limits.js";

/** What context is shared between steps. Defaults are the product documentation's. */
export const ContextPolicySchema = z.strictObject({
  /** Send the thread's conversation history to providers (also needs the data-sharing policy). */
  shareConversationHistory: z.boolean().default(false),
  /** Let steps see earlier steps' outputs. */
  shareStepOutputs: z.boolean().default(true),
  /** Cap on shared context (history + step outputs) per request, counted with a real tokenizer. */
  maxSharedTokens: z.number().int().positive().max(FLOW_LIMITS.maxSharedTokens).default(10_000),
  /** Always show each step the user's original prompt. */
  includeOriginalPrompt: z.boolean().default(true),
  /** Keep system messages of the thread history when history is shared. */
  preserveSystemPrompts: z.boolean().default(false),
});
export type ContextPolicy = z.infer<typeof ContextPolicySchema>;

export const DEFAULT_CONTEXT_POLICY: ContextPolicy = ContextPolicySchema.parse({});
