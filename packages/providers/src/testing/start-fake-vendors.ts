import { anthropicDialect } from "./anthropic-dialect.js";
import { startFakeVendorServer, type FakeVendorServer, type FakeVendorServerOptions } from "./fake-vendor-server.js";
import { geminiDialect } from "./gemini-dialect.js";
import { openAIDialect } from "./openai-dialect.js";

/** A fake OpenAI Chat Completions server; also stands in for any OpenAI-compatible server (`keyless: true` for Ollama-like ones). */
export function startFakeOpenAI(options?: FakeVendorServerOptions): Promise<FakeVendorServer> {
  return startFakeVendorServer(openAIDialect, options);
}

/** A fake Anthropic Messages server. */
export function startFakeAnthropic(options?: FakeVendorServerOptions): Promise<FakeVendorServer> {
  return startFakeVendorServer(anthropicDialect, options);
}

/** A fake Gemini API server (generateContent and streamGenerateContent). */
export function startFakeGemini(options?: FakeVendorServerOptions): Promise<FakeVendorServer> {
  return startFakeVendorServer(geminiDialect, options);
}

/** The variables that point a spawned worker at the fake servers (a type, not an interface, so it spreads into an env record). */
export type FakeVendorEnv = {
  OPENAI_BASE_URL: string;
  OPENAI_API_KEY: string;
  ANTHROPIC_BASE_URL: string;
  ANTHROPIC_API_KEY: string;
  GEMINI_BASE_URL: string;
  GEMINI_API_KEY: string;
};

export interface FakeVendors {
  openai: FakeVendorServer;
  anthropic: FakeVendorServer;
  google: FakeVendorServer;
  env: FakeVendorEnv;
  /** reset() on all three. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts the three fake vendor servers at once. */
export async function startFakeVendors(
  options: Pick<FakeVendorServerOptions, "chunkDelayMs" | "promptCache" | "batches"> = {},
): Promise<FakeVendors> {
  const [openai, anthropic, google] = await Promise.all([
    startFakeOpenAI(options),
    startFakeAnthropic(options),
    startFakeGemini(options),
  ]);
  return {
    openai,
    anthropic,
    google,
    env: {
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: openai.apiKey,
      ANTHROPIC_BASE_URL: anthropic.url,
      ANTHROPIC_API_KEY: anthropic.apiKey,
      GEMINI_BASE_URL: google.url,
      GEMINI_API_KEY: google.apiKey,
    },
    reset() {
      for (const server of [openai, anthropic, google]) server.reset();
    },
    async close() {
      await Promise.all([openai.close(), anthropic.close(), google.close()]);
    },
  };
}
