import { redactSecrets } from "@ensemble/core";
import { configuredSecretValues, EngineEnvSchema, parseEnv } from "./engine-env.js";

describe("engine env: configured secrets", () => {
  const source = {
    OPENAI_API_KEY: "openai-key-value-1",
    OPENAI_BASE_URL: "https://proxy.example/v1",
    OPENAI_COMPATIBLE_ENDPOINTS: JSON.stringify([
      { name: "local", baseUrl: "http://127.0.0.1:8080/v1", apiKeyEnv: "LOCAL_LLM_TOKEN" },
    ]),
    LOCAL_LLM_TOKEN: "local-llm-token-value",
    ADMIN_TOKEN: "admin-token-value-123",
    DEV_API_KEY: "ens_dev_key_value_123",
    DATABASE_URL: "postgres://app:db%40pass-word@127.0.0.1:5432/ensemble",
    REDIS_URL: "redis://:redis-pass-word@127.0.0.1:6379",
    UNRELATED: "not-a-secret-value",
  };

  it("are the keys (also those endpoints name), the admin and dev tokens and the URL passwords, and nothing else", () => {
    expect(configuredSecretValues(source).sort()).toEqual(
      [
        "openai-key-value-1",
        "local-llm-token-value",
        "admin-token-value-123",
        "ens_dev_key_value_123",
        "db%40pass-word",
        "db@pass-word",
        "redis-pass-word",
      ].sort(),
    );
  });

  it("are masked by redactSecrets once the environment is parsed", () => {
    parseEnv(EngineEnvSchema, source);
    const echoed = `401 from the endpoint: token local-llm-token-value rejected; db: db@pass-word; admin admin-token-value-123`;
    expect(redactSecrets(echoed)).toBe(
      "401 from the endpoint: token [REDACTED] rejected; db: [REDACTED]; admin [REDACTED]",
    );
    expect(redactSecrets("not-a-secret-value")).toBe("not-a-secret-value");
  });
});
