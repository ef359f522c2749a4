import type OpenAI from "openai";
import { lazyClient } from "../adapter-kit/lazy-client.js";
import { DEFAULT_VENDOR_TIMEOUT_MS } from "../adapter-kit/vendor-timeout.js";

export interface OpenAIClientOptions {
  /** Undefined or empty for a keyless server: then no Authorization header is sent. */
  apiKey?: string | undefined;
  baseUrl: string;
  timeoutMs?: number;
}

/**
 * An OpenAI SDK client that takes nothing from the environment (the SDK would otherwise read
 * OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID… and could send OpenAI's key to another
 * server) and never retries: the engine retries per step. Made on first use (see lazyClient).
 */
export function createOpenAIClient(options: OpenAIClientOptions): () => Promise<OpenAI> {
  const keyless = !options.apiKey;
  return lazyClient(async () => {
    const { default: OpenAI } = await import("openai");
    return new OpenAI({
      // The SDK refuses to start without a key; for a keyless server the header is removed below.
      apiKey: keyless ? "keyless" : options.apiKey,
      adminAPIKey: null,
      organization: null,
      project: null,
      baseURL: options.baseUrl,
      maxRetries: 0,
      timeout: options.timeoutMs ?? DEFAULT_VENDOR_TIMEOUT_MS,
      logLevel: "warn",
      ...(keyless ? { defaultHeaders: { Authorization: null } } : {}),
    });
  });
}
