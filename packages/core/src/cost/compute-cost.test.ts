import type { TokenUsage } from "../schema/results.js";
import { computeCost } from "./compute-cost.js";
import { DEFAULT_PRICE_TABLE } from "./default-price-table.js";
import { mergePriceTables, type PriceTable } from "./price-table.js";

const usage = (
  promptTokens: number,
  completionTokens: number,
  extra: Partial<Pick<TokenUsage, "cachedTokens" | "cacheWriteTokens" | "cacheWrite1hTokens" | "reasoningTokens">> = {},
) => ({
  promptTokens,
  completionTokens,
  totalTokens: promptTokens + completionTokens,
  ...extra,
});

describe("computeCost", () => {
  it("bills prompt tokens at the input price and completion tokens at the output price", () => {
    // gpt-4o: $2.50 in, $10 out per million.
    expect(computeCost(usage(1_000_000, 1_000_000), "openai", "gpt-4o", DEFAULT_PRICE_TABLE)).toEqual({ cost: 12.5 });
    expect(computeCost(usage(1200, 350), "openai", "gpt-4o", DEFAULT_PRICE_TABLE)).toEqual({ cost: 0.0065 });
    expect(computeCost(usage(0, 0), "openai", "gpt-4o", DEFAULT_PRICE_TABLE)).toEqual({ cost: 0 });
  });

  it("bills a batch answer's input and output at half price for OpenAI and Anthropic", () => {
    // gpt-4o: $1.25 in, $5 out per million in a batch.
    const batch = { batch: true };
    expect(computeCost(usage(1_000_000, 1_000_000), "openai", "gpt-4o", DEFAULT_PRICE_TABLE, batch)).toEqual({
      cost: 6.25,
    });
    // claude-sonnet-4-5: $1.50 in, $7.50 out per million in a batch.
    expect(computeCost(usage(1000, 1000), "anthropic", "claude-sonnet-4-5", DEFAULT_PRICE_TABLE, batch).cost).toBe(
      0.009,
    );
    // A provider without batch prices is billed at its standard prices.
    expect(computeCost(usage(1000, 1000), "google", "gemini-2.5-pro", DEFAULT_PRICE_TABLE, batch)).toEqual(
      computeCost(usage(1000, 1000), "google", "gemini-2.5-pro", DEFAULT_PRICE_TABLE),
    );
  });

  it("prices dated and aliased names as their model", () => {
    // claude-3-opus: $15 in, $75 out.
    expect(computeCost(usage(1000, 1000), "anthropic", "claude-3-opus-20240229", DEFAULT_PRICE_TABLE).cost).toBe(0.09);
    expect(computeCost(usage(1000, 1000), "anthropic", "claude-sonnet-4-5", DEFAULT_PRICE_TABLE).cost).toBe(0.018);
    expect(computeCost(usage(1000, 1000), "openai", "gpt-4o-mini-2024-07-18", DEFAULT_PRICE_TABLE).cost).toBe(0.00075);
  });

  it("bills cached prompt tokens at the cached price, the rest of the prompt at the input price", () => {
    // gpt-4o: 600k uncached × 2.50 + 400k cached × 1.25 = 1.5 + 0.5.
    expect(
      computeCost(usage(1_000_000, 0, { cachedTokens: 400_000 }), "openai", "gpt-4o", DEFAULT_PRICE_TABLE).cost,
    ).toBe(2);
    // A model without a cached price bills cached tokens at the input price.
    expect(
      computeCost(usage(1_000_000, 0, { cachedTokens: 400_000 }), "openai", "gpt-4", DEFAULT_PRICE_TABLE).cost,
    ).toBe(30);
    // More cached than prompt tokens (a vendor's mistake) is capped at the prompt.
    expect(
      computeCost(usage(1_000_000, 0, { cachedTokens: 5_000_000 }), "openai", "gpt-4o", DEFAULT_PRICE_TABLE).cost,
    ).toBe(1.25);
  });

  it("Anthropic: bills cache reads at 0.1×, 5-minute writes at 1.25× and 1-hour writes at 2× the input price", () => {
    // claude-sonnet-4-5, $3 in: a 1M-token prompt = 100k plain + 600k read + 200k 5-minute writes + 100k 1-hour writes.
    // 0.1M × 3 + 0.6M × 0.3 + 0.2M × 3.75 + 0.1M × 6 = 0.3 + 0.18 + 0.75 + 0.6.
    const mixed = usage(1_000_000, 0, {
      cachedTokens: 600_000,
      cacheWriteTokens: 300_000,
      cacheWrite1hTokens: 100_000,
    });
    expect(computeCost(mixed, "anthropic", "claude-sonnet-4-5", DEFAULT_PRICE_TABLE).cost).toBe(1.83);
    // A first call writes its 20k-token prefix (1.25×), the next reads it (0.1×), against 2 × 20k at the input price.
    const write = computeCost(
      usage(20_000, 0, { cacheWriteTokens: 20_000 }),
      "anthropic",
      "claude-sonnet-4-5",
      DEFAULT_PRICE_TABLE,
    );
    const read = computeCost(
      usage(20_000, 0, { cachedTokens: 20_000 }),
      "anthropic",
      "claude-sonnet-4-5",
      DEFAULT_PRICE_TABLE,
    );
    expect([write.cost, read.cost]).toEqual([0.075, 0.006]);
    // Claude 3 Haiku's cache prices are its own listed ones: $0.30 and $0.50 per million writes.
    expect(
      computeCost(
        usage(2_000_000, 0, { cacheWriteTokens: 2_000_000, cacheWrite1hTokens: 1_000_000 }),
        "anthropic",
        "claude-3-haiku",
        DEFAULT_PRICE_TABLE,
      ).cost,
    ).toBe(0.8);
  });

  it("OpenAI and Gemini: cache reads at the cached-input price, nothing extra for writes", () => {
    // gpt-4.1: $2 in, $0.50 cached; 10k prompt of which 8k cached = 2k × 2 + 8k × 0.5.
    expect(computeCost(usage(10_000, 0, { cachedTokens: 8_000 }), "openai", "gpt-4.1", DEFAULT_PRICE_TABLE).cost).toBe(
      0.008,
    );
    // gemini-2.5-flash: $0.30 in, $0.03 cached.
    expect(
      computeCost(usage(10_000, 0, { cachedTokens: 8_000 }), "google", "gemini-2.5-flash", DEFAULT_PRICE_TABLE).cost,
    ).toBe(0.00084);
    // A write reported where the table has no write price is plain input, never billed twice.
    expect(
      computeCost(usage(10_000, 0, { cacheWriteTokens: 10_000 }), "openai", "gpt-4.1", DEFAULT_PRICE_TABLE).cost,
    ).toBe(0.02);
  });

  it("never bills more cache tokens than the prompt holds", () => {
    // claude-sonnet-4-5: reads cap at the prompt, writes at what reads leave, 1-hour writes at the writes.
    const over = usage(1_000_000, 0, { cachedTokens: 800_000, cacheWriteTokens: 900_000, cacheWrite1hTokens: 900_000 });
    // 800k × 0.3 + 200k × 6.
    expect(computeCost(over, "anthropic", "claude-sonnet-4-5", DEFAULT_PRICE_TABLE).cost).toBe(1.44);
  });

  it("does not add reasoning tokens again: they are part of completionTokens", () => {
    // o3: $8 out per million; 1,000 completion tokens of which 800 reasoning.
    expect(computeCost(usage(0, 1000, { reasoningTokens: 800 }), "openai", "o3", DEFAULT_PRICE_TABLE).cost).toBe(0.008);
  });

  it("rounds to 1e-8 dollars", () => {
    // gpt-4.1-nano: 1 input token = $0.0000001; 3 output tokens × $0.40 / M = $0.0000012.
    expect(computeCost(usage(1, 3), "openai", "gpt-4.1-nano", DEFAULT_PRICE_TABLE).cost).toBe(0.0000013);
    const odd: PriceTable = { x: { m: { inputPerMillion: 1 / 3, outputPerMillion: 0 } } };
    expect(computeCost(usage(1, 0), "x", "m", odd).cost).toBe(0.00000033);
    expect(computeCost(usage(1000, 0), "x", "m", odd).cost).toBe(0.00033333);
  });

  it("uses an override price", () => {
    const table = mergePriceTables(DEFAULT_PRICE_TABLE, {
      openai: { "gpt-4o": { inputPerMillion: 1, outputPerMillion: 2 } },
    });
    expect(computeCost(usage(1_000_000, 1_000_000), "openai", "gpt-4o-2024-11-20", table).cost).toBe(3);
  });

  it("costs nothing on the sim provider, whatever the model", () => {
    expect(computeCost(usage(5000, 5000), "sim", "echo", DEFAULT_PRICE_TABLE)).toEqual({ cost: 0 });
  });

  it("gives null and a warning naming provider and model, and how to add a price, for an unknown model; never throws", () => {
    const result = computeCost(usage(10, 10), "ollama", "llama3:8b", DEFAULT_PRICE_TABLE);
    expect(result.cost).toBeNull();
    expect(result.warning).toContain('model "llama3:8b" of provider "ollama"');
    expect(result.warning).toContain('{"ollama":{"llama3:8b":{"inputPerMillion":0,"outputPerMillion":0');
    expect(result.warning).toContain('"*"');
    expect(computeCost(usage(10, 10), "openai", "gpt-9", DEFAULT_PRICE_TABLE).cost).toBeNull();
    expect(
      computeCost(
        { promptTokens: Number.NaN, completionTokens: -1, totalTokens: 0 },
        "openai",
        "gpt-4o",
        DEFAULT_PRICE_TABLE,
      ),
    ).toEqual({
      cost: null,
      warning: expect.stringContaining("unusable token usage"),
    });
  });
});
