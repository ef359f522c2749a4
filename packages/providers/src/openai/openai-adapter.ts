import type { ProviderAdapter } from "../provider-adapter.js";
import { createOpenAIBatchApi } from "./openai-batch.js";
import { createOpenAIChatAdapter } from "./openai-chat-adapter.js";
import { createOpenAIClient } from "./openai-client.js";

export const OPENAI_PROVIDER_KEY = "openai";
export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

export interface OpenAIAdapterOptions {
  apiKey: string;
  /** Default https://api.openai.com/v1 (include the `/v1`). */
  baseUrl?: string;
  /** Client-side cap per request, ms; default 10 minutes. */
  timeoutMs?: number;
}

/** The `openai` provider: Chat Completions on api.openai.com (or a proxy of it). */
export function createOpenAIAdapter(options: OpenAIAdapterOptions): ProviderAdapter {
  const client = createOpenAIClient({
    apiKey: options.apiKey,
    baseUrl: options.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  const rules = { maxTokensField: "max_completion_tokens", openAIModelRules: true } as const;
  return {
    ...createOpenAIChatAdapter({ key: OPENAI_PROVIDER_KEY, client, ...rules }),
    batch: createOpenAIBatchApi({ key: OPENAI_PROVIDER_KEY, client, ...rules }),
  };
}
