import type { ChatMessage, StepSettings } from "@ensemble/core";
import type Anthropic from "@anthropic-ai/sdk";
import { splitConversation } from "../adapter-kit/chat-turns.js";

/**
 * Anthropic requires max_tokens on every request; a step without `maxTokens` gets this. 4096 is
 * within every current Claude model's output limit (Claude 3 Haiku's is the smallest, 4096).
 */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/**
 * The Messages API body: system messages become the top-level `system`, turns alternate.
 * Temperature is clamped to Anthropic's 0–1 range; when both temperature and topP are set only
 * temperature is sent (Anthropic: "alter temperature or top_p, but not both"; newer models reject both).
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
  if (settings.temperature !== undefined) body.temperature = Math.min(settings.temperature, 1);
  else if (settings.topP !== undefined) body.top_p = settings.topP;
  if (settings.stopSequences?.length) body.stop_sequences = settings.stopSequences;
  return body;
}
