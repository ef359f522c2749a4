import { DEFAULT_PRICE_TABLE } from "./default-price-table.js";
import { findPrice } from "./find-price.js";
import { normalizeModelName } from "./model-name.js";
import type { PriceTable } from "./price-table.js";

const table = DEFAULT_PRICE_TABLE;

describe("findPrice", () => {
  it("finds an exact name", () => {
    expect(findPrice(table, "openai", "gpt-4o")).toEqual({
      inputPerMillion: 2.5,
      outputPerMillion: 10,
      cachedInputPerMillion: 1.25,
      batchInputPerMillion: 1.25,
      batchOutputPerMillion: 5,
    });
    expect(findPrice(table, "anthropic", "claude-3-opus")).toMatchObject({ inputPerMillion: 15, outputPerMillion: 75 });
  });

  it("prefers the exact name over a shorter prefix: gpt-4o-mini is not gpt-4o", () => {
    expect(findPrice(table, "openai", "gpt-4o-mini")).toBe(table.openai?.["gpt-4o-mini"]);
    expect(findPrice(table, "google", "gemini-2.5-flash-lite")).toBe(table.google?.["gemini-2.5-flash-lite"]);
    expect(findPrice(table, "openai", "o3-mini")).toBe(table.openai?.["o3-mini"]);
  });

  it.each([
    ["openai", "gpt-4o-2024-08-06", "gpt-4o"],
    ["openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"],
    ["openai", "gpt-4-0613", "gpt-4"],
    ["openai", "gpt-4-turbo-2024-04-09", "gpt-4-turbo"],
    ["openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"],
    ["openai", "o1-mini-2024-09-12", "o1-mini"],
    ["openai", "gpt-5-2025-08-07", "gpt-5"],
    ["anthropic", "claude-3-opus-20240229", "claude-3-opus"],
    ["anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet"],
    ["anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"],
    ["anthropic", "claude-opus-4-20250514", "claude-opus-4"],
    ["anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
    ["google", "gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"],
    ["google", "gemini-1.5-pro-002", "gemini-1.5-pro"],
  ])("prices %s %s as its longest listed prefix %s", (provider, model, listed) => {
    expect(findPrice(table, provider, model)).toBe(table[provider]?.[listed]);
  });

  it("strips Google's models/ prefix and a -latest suffix, and ignores case", () => {
    expect(findPrice(table, "google", "models/gemini-2.5-pro")).toBe(table.google?.["gemini-2.5-pro"]);
    expect(findPrice(table, "anthropic", "claude-3-5-sonnet-latest")).toBe(table.anthropic?.["claude-3-5-sonnet"]);
    expect(findPrice(table, "anthropic", "claude-3-7-sonnet-latest")).toBe(table.anthropic?.["claude-3-7-sonnet"]);
    expect(findPrice(table, "openai", "GPT-4o")).toBe(table.openai?.["gpt-4o"]);
    expect(normalizeModelName(" models/Gemini-2.0-Flash-latest ")).toBe("gemini-2.0-flash");
  });

  it("needs a dash after the prefix: gpt-4o is not a prefix of gpt-4omega, o1 not of o10", () => {
    expect(findPrice(table, "openai", "gpt-4omega")).toBeNull();
    expect(findPrice(table, "openai", "o10")).toBeNull();
  });

  it("falls back to the provider's * entry, after exact and prefix matches", () => {
    expect(findPrice(table, "sim", "anything-at-all")).toEqual({ inputPerMillion: 0, outputPerMillion: 0 });
    const withStar: PriceTable = {
      local: { "*": { inputPerMillion: 1, outputPerMillion: 1 }, llama: { inputPerMillion: 2, outputPerMillion: 2 } },
    };
    expect(findPrice(withStar, "local", "llama-3-8b")?.inputPerMillion).toBe(2);
    expect(findPrice(withStar, "local", "mistral")?.inputPerMillion).toBe(1);
  });

  it("is null for an unknown provider or model, including names on Object.prototype", () => {
    expect(findPrice(table, "nobody", "gpt-4o")).toBeNull();
    expect(findPrice(table, "openai", "davinci-002")).toBeNull();
    expect(findPrice(table, "constructor", "name")).toBeNull();
    expect(findPrice(table, "openai", "constructor")).toBeNull();
  });
});
