import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findPrice } from "@ensemble/core";
import { providersFromEnv } from "@ensemble/providers";
import { EngineEnvSchema, engineConfigFromEnv, parseEnv } from "./engine-env.js";

describe("engine env: vendor providers and prices", () => {
  const source = {
    OPENAI_API_KEY: "test-openai-key",
    ANTHROPIC_API_KEY: "test-anthropic-key",
    OPENAI_COMPATIBLE_ENDPOINTS: JSON.stringify([
      { name: "ollama", baseUrl: "http://127.0.0.1:11434/v1", apiKeyEnv: "OLLAMA_API_KEY" },
    ]),
    OLLAMA_API_KEY: "test-ollama-key",
    UNRELATED_SECRET: "not for the engine",
  };

  it("hands on only the provider variables (and the key variables the endpoints name), which configure the adapters", () => {
    const config = engineConfigFromEnv(parseEnv(EngineEnvSchema, source), source);
    expect(config.providerEnv).toEqual({
      OPENAI_API_KEY: "test-openai-key",
      ANTHROPIC_API_KEY: "test-anthropic-key",
      OPENAI_COMPATIBLE_ENDPOINTS: source.OPENAI_COMPATIBLE_ENDPOINTS,
      OLLAMA_API_KEY: "test-ollama-key",
    });
    expect(providersFromEnv(config.providerEnv).map((a) => a.key)).toEqual(["openai", "anthropic", "ollama"]);
    expect(config).not.toHaveProperty("prices");
  });

  it("stops at start on a bad provider variable, naming it", () => {
    expect(() => parseEnv(EngineEnvSchema, { OPENAI_BASE_URL: "nope" })).toThrow(
      "invalid configuration: OPENAI_BASE_URL: must be an http(s) URL",
    );
    expect(() => parseEnv(EngineEnvSchema, { OPENAI_COMPATIBLE_ENDPOINTS: "[1]" })).toThrow(
      "invalid configuration: OPENAI_COMPATIBLE_ENDPOINTS.0:",
    );
  });

  it("loads PRICE_TABLE_FILE over the default prices", () => {
    const path = join(mkdtempSync(join(tmpdir(), "ensemble-env-")), "prices.json");
    writeFileSync(path, JSON.stringify({ ollama: { "*": { inputPerMillion: 0, outputPerMillion: 0 } } }));
    const env = { PRICE_TABLE_FILE: path };
    const config = engineConfigFromEnv(parseEnv(EngineEnvSchema, env), env);
    expect(config.prices && findPrice(config.prices, "ollama", "llama3.2")).toEqual({
      inputPerMillion: 0,
      outputPerMillion: 0,
    });
    expect(config.prices && findPrice(config.prices, "openai", "gpt-4o")).toMatchObject({ inputPerMillion: 2.5 });
  });
});
