import { createOpenAICompatibleAdapter } from "../openai-compatible/openai-compatible-adapter.js";
import type { ProviderAdapter } from "../provider-adapter.js";
import { BUILT_IN_VENDORS } from "./built-in-vendors.js";
import { parseProviderEnv, ProviderConfigError } from "./provider-env.js";

/**
 * The vendor adapters an environment configures: a built-in vendor's (BUILT_IN_VENDORS) for
 * each vendor whose key variable is set, with its optional base URL variable, and
 * one adapter per OPENAI_COMPATIBLE_ENDPOINTS entry, its key read from the variable it names.
 * Throws ProviderConfigError naming the variable (never its value) for a bad configuration.
 */
export function providersFromEnv(source: Readonly<Record<string, string | undefined>>): ProviderAdapter[] {
  const env = parseProviderEnv(source);
  const adapters: ProviderAdapter[] = [];
  for (const vendor of BUILT_IN_VENDORS) {
    const apiKey = env[vendor.apiKeyVariable];
    const baseUrl = env[vendor.baseUrlVariable];
    if (apiKey) adapters.push(vendor.create({ apiKey, ...(baseUrl ? { baseUrl } : {}) }));
  }
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
