import { createAnthropicAdapter } from "../anthropic/anthropic-adapter.js";
import { createGoogleAdapter } from "../google/google-adapter.js";
import { createOpenAIAdapter } from "../openai/openai-adapter.js";
import { createOpenAICompatibleAdapter } from "../openai-compatible/openai-compatible-adapter.js";
import type { ProviderAdapter } from "../provider-adapter.js";
import { parseProviderEnv, ProviderConfigError } from "./provider-env.js";

/**
 * The vendor adapters an environment configures: `openai`, `anthropic`, `google` for each key
 * that is set (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, with optional *_BASE_URL), and
 * one adapter per OPENAI_COMPATIBLE_ENDPOINTS entry, its key read from the variable it names.
 * Throws ProviderConfigError naming the variable (never its value) for a bad configuration.
 */
export function providersFromEnv(source: Readonly<Record<string, string | undefined>>): ProviderAdapter[] {
  const env = parseProviderEnv(source);
  const adapters: ProviderAdapter[] = [];
  if (env.OPENAI_API_KEY)
    adapters.push(
      createOpenAIAdapter({
        apiKey: env.OPENAI_API_KEY,
        ...(env.OPENAI_BASE_URL ? { baseUrl: env.OPENAI_BASE_URL } : {}),
      }),
    );
  if (env.ANTHROPIC_API_KEY)
    adapters.push(
      createAnthropicAdapter({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(env.ANTHROPIC_BASE_URL ? { baseUrl: env.ANTHROPIC_BASE_URL } : {}),
      }),
    );
  if (env.GEMINI_API_KEY)
    adapters.push(
      createGoogleAdapter({
        apiKey: env.GEMINI_API_KEY,
        ...(env.GEMINI_BASE_URL ? { baseUrl: env.GEMINI_BASE_URL } : {}),
      }),
    );
  (env.OPENAI_COMPATIBLE_ENDPOINTS ?? []).forEach((endpoint, index) => {
    const apiKey = endpoint.apiKeyEnv ? source[endpoint.apiKeyEnv] : undefined;
    if (endpoint.apiKeyEnv && !apiKey) {
      throw new ProviderConfigError(
        `invalid provider configuration: OPENAI_COMPATIBLE_ENDPOINTS[${index}].apiKeyEnv names ${endpoint.apiKeyEnv}, which is not set`,
      );
    }
    adapters.push(
      createOpenAICompatibleAdapter({
        name: endpoint.name,
        baseUrl: endpoint.baseUrl,
        ...(apiKey ? { apiKey } : {}),
        ...(endpoint.maxTokensField ? { maxTokensField: endpoint.maxTokensField } : {}),
      }),
    );
  });
  return adapters;
}
