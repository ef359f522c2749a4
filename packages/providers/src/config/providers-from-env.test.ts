import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_PRICE_TABLE, findPrice } from "@ensemble/core";
import { vendorRequest } from "../adapter-kit/vendor-test-helpers.js";
import { startFakeVendors, type FakeVendors } from "../testing/index.js";
import { priceTableFromFile } from "./price-table-file.js";
import { ProviderConfigError } from "./provider-env.js";
import { providersFromEnv } from "./providers-from-env.js";

describe("providersFromEnv", () => {
  let vendors: FakeVendors;
  beforeAll(async () => {
    vendors = await startFakeVendors();
  });
  afterAll(() => vendors.close());

  it("configures nothing from an empty environment, and ignores empty variables", () => {
    expect(providersFromEnv({})).toEqual([]);
    expect(providersFromEnv({ OPENAI_API_KEY: "", OPENAI_COMPATIBLE_ENDPOINTS: "" })).toEqual([]);
  });

  it("configures the three vendors from the fake servers' env, and each answers through its own server", async () => {
    const adapters = providersFromEnv(vendors.env);
    expect(adapters.map((a) => a.key)).toEqual(["openai", "anthropic", "google"]);
    const [openai, anthropic, google] = adapters;
    expect((await openai?.call(vendorRequest("gpt-4o")))?.text).toBe("Reply from gpt-4o: And 3+3?");
    expect((await anthropic?.call(vendorRequest("claude-haiku-4-5")))?.text).toBe(
      "Reply from claude-haiku-4-5: And 3+3?",
    );
    expect((await google?.call(vendorRequest("gemini-2.5-flash")))?.text).toBe("Reply from gemini-2.5-flash: And 3+3?");
    expect([vendors.openai.requests.length, vendors.anthropic.requests.length, vendors.google.requests.length]).toEqual(
      [1, 1, 1],
    );
  });

  it("adds one adapter per OpenAI-compatible endpoint, with the key from the variable it names", async () => {
    const endpoints = [
      { name: "ollama", baseUrl: "http://127.0.0.1:11434/v1" },
      { name: "router", baseUrl: vendors.openai.url, apiKeyEnv: "ROUTER_KEY", maxTokensField: "max_completion_tokens" },
    ];
    const adapters = providersFromEnv({
      OPENAI_COMPATIBLE_ENDPOINTS: JSON.stringify(endpoints),
      ROUTER_KEY: vendors.openai.apiKey,
    });
    expect(adapters.map((a) => a.key)).toEqual(["ollama", "router"]);
    vendors.openai.reset();
    await adapters[1]?.call(vendorRequest("some/model", { settings: { maxTokens: 9 } }));
    expect(vendors.openai.requests[0]?.headers.authorization).toBe(`Bearer ${vendors.openai.apiKey}`);
    expect(vendors.openai.requests[0]?.body).toMatchObject({ max_completion_tokens: 9 });
  });

  it.each([
    [{ OPENAI_BASE_URL: "not a url", OPENAI_API_KEY: "k" }, "OPENAI_BASE_URL: must be an http(s) URL"],
    [{ ANTHROPIC_BASE_URL: "ftp://example.com", ANTHROPIC_API_KEY: "k" }, "ANTHROPIC_BASE_URL: must be an http(s) URL"],
    [{ GEMINI_BASE_URL: "http://127.0.0.1:1" }, "GEMINI_BASE_URL is set but GEMINI_API_KEY is not"],
    [{ OPENAI_COMPATIBLE_ENDPOINTS: "[{name:" }, "OPENAI_COMPATIBLE_ENDPOINTS: must be a JSON list"],
    [{ OPENAI_COMPATIBLE_ENDPOINTS: '{"name":"x"}' }, "OPENAI_COMPATIBLE_ENDPOINTS: "],
    [
      { OPENAI_COMPATIBLE_ENDPOINTS: '[{"name":"Ollama","baseUrl":"http://h/v1"}]' },
      "OPENAI_COMPATIBLE_ENDPOINTS[0].name: must be a provider key",
    ],
    [
      { OPENAI_COMPATIBLE_ENDPOINTS: '[{"name":"openai","baseUrl":"http://h/v1"}]' },
      "OPENAI_COMPATIBLE_ENDPOINTS[0].name: is a built-in provider's key",
    ],
    [
      { OPENAI_COMPATIBLE_ENDPOINTS: '[{"name":"a","baseUrl":"http://h/v1"},{"name":"a","baseUrl":"http://g/v1"}]' },
      'OPENAI_COMPATIBLE_ENDPOINTS[1].name: "a" is listed twice',
    ],
    [
      { OPENAI_COMPATIBLE_ENDPOINTS: '[{"name":"a","baseUrl":"localhost:11434"}]' },
      "OPENAI_COMPATIBLE_ENDPOINTS[0].baseUrl: must be an http(s) URL",
    ],
    [
      { OPENAI_COMPATIBLE_ENDPOINTS: '[{"name":"a","baseUrl":"http://h/v1","apiKeyEnv":"A_KEY"}]' },
      "OPENAI_COMPATIBLE_ENDPOINTS[0].apiKeyEnv names A_KEY, which is not set",
    ],
  ])("rejects %j naming the variable", (env, message) => {
    expect(() => providersFromEnv(env)).toThrow(ProviderConfigError);
    expect(() => providersFromEnv(env)).toThrow(message);
  });

  it("never quotes a value in its errors (a key pasted into the endpoint list stays out of logs)", () => {
    const secret = "sk-live-0123456789abcdefSECRET";
    const attempts = [
      { OPENAI_COMPATIBLE_ENDPOINTS: `[{"name":"a","baseUrl":"http://h/v1","apiKey":"${secret}"}]` },
      { OPENAI_COMPATIBLE_ENDPOINTS: `[{"name":"a","baseUrl":"${secret}"}]` },
      { OPENAI_COMPATIBLE_ENDPOINTS: `${secret}` },
    ];
    for (const env of attempts) {
      let message = "";
      try {
        providersFromEnv(env);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid provider configuration: OPENAI_COMPATIBLE_ENDPOINTS/);
      expect(message).not.toContain(secret);
    }
  });
});

describe("priceTableFromFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "ensemble-prices-"));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("merges the file over the default table, the file winning per model", () => {
    const path = write(
      "ok.json",
      JSON.stringify({
        openai: { "gpt-4o": { inputPerMillion: 1, outputPerMillion: 2 } },
        ollama: { "*": { inputPerMillion: 0, outputPerMillion: 0 } },
      }),
    );
    const table = priceTableFromFile(path);
    expect(findPrice(table, "openai", "gpt-4o-2024-11-20")).toEqual({ inputPerMillion: 1, outputPerMillion: 2 });
    expect(findPrice(table, "openai", "gpt-4o-mini")).toEqual(DEFAULT_PRICE_TABLE.openai?.["gpt-4o-mini"]);
    expect(findPrice(table, "ollama", "llama3.2")).toEqual({ inputPerMillion: 0, outputPerMillion: 0 });
  });

  it("names the variable, the file and the bad entry", () => {
    const bad = write(
      "bad.json",
      JSON.stringify({ openai: { "gpt-4o": { inputPerMillion: -1, outputPerMillion: 2 } } }),
    );
    expect(() => priceTableFromFile(bad)).toThrow(`PRICE_TABLE_FILE: ${bad}: openai.gpt-4o.inputPerMillion`);
    expect(() => priceTableFromFile(write("broken.json", "{"))).toThrow("PRICE_TABLE_FILE: ");
    expect(() => priceTableFromFile(join(dir, "missing.json"))).toThrow(
      /PRICE_TABLE_FILE: cannot read .*missing\.json \(ENOENT\)/,
    );
  });
});
