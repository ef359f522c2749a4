import { EngineEnvSchema, engineConfigFromEnv, parseEnv } from "./engine-env.js";

describe("engine env: fair sharing", () => {
  it("is on with a minute of aging by default", () => {
    const config = engineConfigFromEnv(parseEnv(EngineEnvSchema, {}), {});
    expect(config.fairShare).toBe(true);
    expect(config.settings.priorityAgingMs).toBe(60_000);
  });

  it("reads FAIR_SHARE=false and PRIORITY_AGING_MS", () => {
    const source = { FAIR_SHARE: "false", PRIORITY_AGING_MS: "5000" };
    const config = engineConfigFromEnv(parseEnv(EngineEnvSchema, source), source);
    expect(config.fairShare).toBe(false);
    expect(config.settings.priorityAgingMs).toBe(5_000);
  });

  it("names the variable when a value is bad", () => {
    expect(() => parseEnv(EngineEnvSchema, { FAIR_SHARE: "off" })).toThrow(/FAIR_SHARE/);
    expect(() => parseEnv(EngineEnvSchema, { PRIORITY_AGING_MS: "10" })).toThrow(/PRIORITY_AGING_MS/);
  });
});
