import type { ChatMessage, StepSettings } from "@ensemble/core";
import type OpenAI from "openai";

/** Which body field carries the output cap: OpenAI's current one, or the older one most compatible servers read. */
export type MaxTokensField = "max_completion_tokens" | "max_tokens";

export interface OpenAIRequestOptions {
  maxTokensField: MaxTokensField;
  /**
   * Whether the model takes temperature, top_p and stop. OpenAI's reasoning models (o-series,
   * gpt-5 except its -chat variants) reject them with a 400; compatible servers take them all.
   */
  samplingSupported: boolean;
  /** OpenAI's `prompt_cache_key`: requests sharing it are routed to the same prompt cache. */
  promptCacheKey?: string;
}

/**
 * One key per flow: its steps send the same prefix (system prompt, thread history, original
 * request; see core's buildStepMessages), so routing them together makes the later steps hit
 * the cache the first one filled, while other flows do not crowd it out.
 */
export function openAIPromptCacheKey(flowId: string): string {
  return `ensemble-flow-${flowId}`;
}

/** o1, o3-mini, o4-mini, gpt-5, gpt-5.1-mini, …; not gpt-5-chat-latest, which samples like gpt-4o. */
export function isOpenAIReasoningModel(model: string): boolean {
  const name = model.trim().toLowerCase();
  return /^o\d+(?:$|-)/.test(name) || (/^gpt-5(?:$|[.-])/.test(name) && !name.includes("-chat"));
}

/**
 * The Chat Completions body (without `stream`) for a call: messages as they are (the stable
 * prefix byte-identical across a flow's steps), settings mapped.
 */
export function openAIChatBody(
  model: string,
  messages: readonly ChatMessage[],
  settings: StepSettings,
  options: OpenAIRequestOptions,
): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const body: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
    model,
    messages: messages.map((m): OpenAI.Chat.ChatCompletionMessageParam => ({ role: m.role, content: m.content })),
  };
  if (settings.maxTokens !== undefined) body[options.maxTokensField] = settings.maxTokens;
  if (options.samplingSupported) {
    if (settings.temperature !== undefined) body.temperature = settings.temperature;
    if (settings.topP !== undefined) body.top_p = settings.topP;
    if (settings.stopSequences?.length) body.stop = settings.stopSequences;
  }
  if (options.promptCacheKey) body.prompt_cache_key = options.promptCacheKey;
  return body;
}
