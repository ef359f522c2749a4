import { PROVIDER_KEY_PATTERN } from "@ensemble/core";
import { createOpenAIChatAdapter } from "../openai/openai-chat-adapter.js";
import { createOpenAIClient } from "../openai/openai-client.js";
import type { MaxTokensField } from "../openai/openai-request.js";
import type { ProviderAdapter } from "../provider-adapter.js";

export interface OpenAICompatibleAdapterOptions {
  /** The provider key flow steps name (`ollama`, `vllm`, `azure`, `openrouter`, …). */
  name: string;
  /** The server's OpenAI API root, usually ending in `/v1` (e.g. http://127.0.0.1:11434/v1). */
  baseUrl: string;
  /** Omit for a keyless server (no Authorization header is sent). */
  apiKey?: string;
  /** Default `max_tokens`, which Ollama, vLLM, llama.cpp and OpenRouter read; Azure's v1 API also takes `max_completion_tokens`. */
  maxTokensField?: MaxTokensField;
  timeoutMs?: number;
}

/**
 * Any server that speaks OpenAI's Chat Completions: the same adapter as `openai`, under its own
 * key, with every setting passed through (no reasoning-model rules: the server decides).
 */
export function createOpenAICompatibleAdapter(options: OpenAICompatibleAdapterOptions): ProviderAdapter {
  if (!PROVIDER_KEY_PATTERN.test(options.name))
    throw new Error(`invalid provider name "${options.name}": use lower-case letters, digits, - and _`);
  const client = createOpenAIClient({
    apiKey: options.apiKey,
    baseUrl: options.baseUrl,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return createOpenAIChatAdapter({
    key: options.name,
    client,
    maxTokensField: options.maxTokensField ?? "max_tokens",
    openAIModelRules: false,
  });
}
