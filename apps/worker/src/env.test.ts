import { parseWorkerEnv } from "./env.js";

describe("worker environment", () => {
  it("reads WORKER_PROVIDERS and WORKER_MODELS", () => {
    const env = parseWorkerEnv({
      WORKER_PROVIDERS: "openai, anthropic",
      WORKER_MODELS: "openai:gpt-4o,openai:gpt-4o-mini,anthropic:claude-sonnet-4-5",
    });
    expect(env.WORKER_PROVIDERS).toEqual(["openai", "anthropic"]);
    expect(env.WORKER_MODELS).toEqual({ openai: ["gpt-4o", "gpt-4o-mini"], anthropic: ["claude-sonnet-4-5"] });
  });

  it("leaves them unset by default: every configured provider, any model", () => {
    const env = parseWorkerEnv({});
    expect(env.WORKER_PROVIDERS).toBeUndefined();
    expect(env.WORKER_MODELS).toBeUndefined();
  });

  it("names the variable when a value is bad", () => {
    expect(() => parseWorkerEnv({ WORKER_PROVIDERS: "OpenAI" })).toThrow(/WORKER_PROVIDERS/);
    expect(() => parseWorkerEnv({ WORKER_PROVIDERS: "openai,," })).toThrow(/WORKER_PROVIDERS/);
    expect(() => parseWorkerEnv({ WORKER_MODELS: "gpt-4o" })).toThrow(/WORKER_MODELS/);
  });
});
