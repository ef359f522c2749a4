import type { ChatMessage, StepSettings } from "@ensemble/core";
import type Anthropic from "@anthropic-ai/sdk";
import { splitConversation } from "../adapter-kit/chat-turns.js";
import { addCacheBreakpoint } from "./anthropic-cache.js";

/**
 * Anthropic requires max_tokens on every request; a step without `maxTokens` gets this. 4096 is
 * within every current Claude model's output limit (Claude 3 Haiku's is the smallest, 4096).
 */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/**
 * The Messages API body: system messages become the top-level `system`, turns alternate.
 * No temperature or top_p: the API version the SDK speaks (2026-10-21) has no sampling settings,
 * so a step's `temperature` and `topP` do not reach Anthropic. The stable prefix gets a
 * prompt-cache breakpoint (see addCacheBreakpoint).
 */
export function anthropicMessagesBody(
  model: string,
  messages: readonly ChatMessage[],
  settings: StepSettings,
): Anthropic.MessageCreateParamsNonStreaming {
  const { system, turns } = splitConversation(messages);
  const body: Anthropic.MessageCreateParamsNonStreaming = {
    model,
    max_tokens: settings.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages: turns.map((t) => ({ role: t.role, content: t.content })),
  };
  if (system !== undefined) body.system = system;
  if (settings.stopSequences?.length) body.stop_sequences = settings.stopSequences;
  addCacheBreakpoint(body, messages);
  return body;
}
