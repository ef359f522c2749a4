import type { ChatMessage, TokenUsage } from "@ensemble/core";

/**
 * About 4 characters per token. Deliberately not a real tokenizer: the cluster benchmark runs
 * the sim at zero latency, where tokenizing every prompt would cost more than the step itself.
 */
export function estimateUsage(messages: readonly ChatMessage[], text: string): TokenUsage {
  let promptChars = 0;
  for (const message of messages) promptChars += message.content.length;
  const promptTokens = Math.ceil(promptChars / 4);
  const completionTokens = Math.ceil(text.length / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}
