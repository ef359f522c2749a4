import { ANTHROPIC_PROVIDER_KEY, createAnthropicAdapter } from "../anthropic/anthropic-adapter.js";
import { createGoogleAdapter, GOOGLE_PROVIDER_KEY } from "../google/google-adapter.js";
import { createOpenAIAdapter, OPENAI_PROVIDER_KEY } from "../openai/openai-adapter.js";
import type { ProviderAdapter } from "../provider-adapter.js";

/** What configures one built-in vendor and builds its adapter. */
export interface BuiltInVendor {
  /** The provider key flow steps name. */
  key: string;
  /** The variable holding the vendor's API key: the vendor is configured when it is set. */
  apiKeyVariable: string;
  /** The optional variable overriding the vendor's base URL (its adapter's `baseUrl` says what it must look like). */
  baseUrlVariable: string;
  create: (options: { apiKey: string; baseUrl?: string }) => ProviderAdapter;
}

/**
 * The built-in vendors, each stated once: the environment schema, the reserved provider keys
 * and the adapters an environment configures are all derived from this table. Adding a vendor
 * is one entry here (and its price rows in the price table).
 */
export const BUILT_IN_VENDORS = [
  {
    key: OPENAI_PROVIDER_KEY,
    apiKeyVariable: "OPENAI_API_KEY",
    baseUrlVariable: "OPENAI_BASE_URL",
    create: createOpenAIAdapter,
  },
  {
    key: ANTHROPIC_PROVIDER_KEY,
    apiKeyVariable: "ANTHROPIC_API_KEY",
    baseUrlVariable: "ANTHROPIC_BASE_URL",
    create: createAnthropicAdapter,
  },
  {
    key: GOOGLE_PROVIDER_KEY,
    apiKeyVariable: "GEMINI_API_KEY",
    baseUrlVariable: "GEMINI_BASE_URL",
    create: createGoogleAdapter,
  },
] as const satisfies readonly BuiltInVendor[];

export type BuiltInVendorEntry = (typeof BUILT_IN_VENDORS)[number];
