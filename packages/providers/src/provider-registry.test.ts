import { ProviderError } from "./errors/provider-error.js";
import type { ProviderAdapter } from "./provider-adapter.js";
import { ProviderRegistry } from "./provider-registry.js";
import { createAnthropicAdapter } from "./anthropic/anthropic-adapter.js";
import { createGoogleAdapter } from "./google/google-adapter.js";
import { createOpenAIAdapter } from "./openai/openai-adapter.js";
import { createOpenAICompatibleAdapter } from "./openai-compatible/openai-compatible-adapter.js";
import { createSimProvider } from "./sim/sim-provider.js";

const fake = (key: string): ProviderAdapter => ({ key, call: () => Promise.reject(new Error("unused")) });

describe("ProviderRegistry", () => {
  it("registers and finds adapters by key", () => {
    const sim = createSimProvider();
    const registry = new ProviderRegistry({ adapters: [sim] }).register(fake("openai"));
    expect(registry.get("sim")).toBe(sim);
    expect(registry.has("openai")).toBe(true);
    expect(registry.has("anthropic")).toBe(false);
    expect(registry.keys()).toEqual(["openai", "sim"]);
  });

  it("throws a non-retryable unknown_provider listing the configured keys", () => {
    const registry = new ProviderRegistry({ adapters: [fake("sim"), fake("openai")] });
    let error: unknown;
    try {
      registry.get("anthropic");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      code: "unknown_provider",
      retryable: false,
      provider: "anthropic",
      message: 'unknown provider "anthropic"; configured providers: openai, sim',
    });
  });

  it("says when nothing is configured", () => {
    expect(() => new ProviderRegistry().get("sim")).toThrow('unknown provider "sim"; no providers are configured');
  });

  it("refuses a second adapter for the same key", () => {
    const registry = new ProviderRegistry({ adapters: [fake("sim")] });
    expect(() => registry.register(fake("sim"))).toThrow('provider "sim" is already registered');
  });

  it("gives a batch API to the vendors that have one only", () => {
    const adapters = [
      createOpenAIAdapter({ apiKey: "k" }),
      createAnthropicAdapter({ apiKey: "k" }),
      createGoogleAdapter({ apiKey: "k" }),
      createOpenAICompatibleAdapter({ name: "ollama", baseUrl: "http://127.0.0.1:1/v1" }),
      createSimProvider(),
    ];
    expect(adapters.filter((a) => a.batch).map((a) => a.key)).toEqual(["openai", "anthropic"]);
  });
});
