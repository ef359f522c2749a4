import { ValidationError } from "../errors/validation-error.js";
import { DEFAULT_PRICE_TABLE } from "./default-price-table.js";
import { findPrice } from "./find-price.js";
import { mergePriceTables, parsePriceTable, type PriceTable } from "./price-table.js";

function issuesOf(json: unknown): string[] {
  try {
    parsePriceTable(json);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues.map((i) => i.path);
    throw error;
  }
  return [];
}

describe("DEFAULT_PRICE_TABLE", () => {
  const required = {
    openai: [
      "gpt-4o",
      "gpt-4o-mini",
      "gpt-4.1",
      "gpt-4.1-mini",
      "gpt-4.1-nano",
      "gpt-4-turbo",
      "gpt-4",
      "gpt-3.5-turbo",
      "o1",
      "o3",
      "o3-mini",
      "o4-mini",
      "gpt-5",
      "gpt-5-mini",
    ],
    anthropic: [
      "claude-3-opus",
      "claude-3-5-sonnet",
      "claude-3-7-sonnet",
      "claude-3-5-haiku",
      "claude-3-haiku",
      "claude-sonnet-4",
      "claude-opus-4",
      "claude-opus-4-1",
      "claude-haiku-4-5",
      "claude-sonnet-4-5",
      "claude-sonnet-4-6",
      "claude-opus-4-5",
      "claude-opus-4-6",
      "claude-opus-4-7",
      "claude-opus-4-8",
    ],
    google: [
      "gemini-pro",
      "gemini-1.5-pro",
      "gemini-1.5-flash",
      "gemini-2.0-flash",
      "gemini-2.5-pro",
      "gemini-2.5-flash",
      "gemini-2.5-flash-lite",
    ],
    sim: ["*"],
  };

  it("prices every model the product names, and is itself a valid table", () => {
    for (const [provider, models] of Object.entries(required)) {
      for (const model of models)
        expect([provider, model, DEFAULT_PRICE_TABLE[provider]?.[model]]).toEqual([
          provider,
          model,
          expect.any(Object),
        ]);
    }
    expect(parsePriceTable(JSON.parse(JSON.stringify(DEFAULT_PRICE_TABLE)))).toEqual(DEFAULT_PRICE_TABLE);
  });

  it("never prices a cache read above the input price", () => {
    for (const models of Object.values(DEFAULT_PRICE_TABLE)) {
      for (const price of Object.values(models))
        expect(price.cachedInputPerMillion ?? 0).toBeLessThanOrEqual(price.inputPerMillion);
    }
  });

  it("prices every Anthropic model's cache writes: 5-minute entries at 1.25×, 1-hour at 2× input (Claude 3 Haiku at its listed $0.30 / $0.50)", () => {
    for (const [model, price] of Object.entries(DEFAULT_PRICE_TABLE.anthropic ?? {})) {
      const expected =
        model === "claude-3-haiku" ? [0.3, 0.5] : [price.inputPerMillion * 1.25, price.inputPerMillion * 2];
      expect([price.cacheWritePerMillion, price.cacheWrite1hPerMillion]).toEqual(expected);
    }
    // OpenAI and Gemini bill no write premium.
    expect(DEFAULT_PRICE_TABLE.openai?.["gpt-4.1"]).not.toHaveProperty("cacheWritePerMillion");
  });
});

describe("parsePriceTable", () => {
  it("accepts a table from JSON", () => {
    const table = parsePriceTable({
      openai: { "gpt-4o": { inputPerMillion: 2, outputPerMillion: 8 } },
      ollama: { "*": { inputPerMillion: 0, outputPerMillion: 0 } },
    });
    expect(findPrice(table, "ollama", "llama3")).toEqual({ inputPerMillion: 0, outputPerMillion: 0 });
  });

  it("names each bad entry by its path", () => {
    expect(issuesOf({ openai: { "gpt-4o": { inputPerMillion: -1, outputPerMillion: "10" } } })).toEqual([
      "openai.gpt-4o.inputPerMillion",
      "openai.gpt-4o.outputPerMillion",
    ]);
    expect(
      issuesOf({ openai: { "gpt-4o": { inputPerMillion: 1, outputPerMillion: 1, cachedInputPrice: 1 } } }),
    ).toEqual(["openai.gpt-4o.cachedInputPrice"]);
    expect(
      issuesOf({
        anthropic: {
          m: { inputPerMillion: 1, outputPerMillion: 1, cacheWritePerMillion: -1, cacheWrite1hPerMillion: "2" },
        },
      }),
    ).toEqual(["anthropic.m.cacheWritePerMillion", "anthropic.m.cacheWrite1hPerMillion"]);
    expect(issuesOf({ "Open AI": {} })).toEqual(["Open AI"]);
    // A name that normalises to __proto__ would replace a merged table's prototype (zod already drops a literal "__proto__").
    expect(issuesOf({ openai: { "models/__PROTO__": { inputPerMillion: 1, outputPerMillion: 1 } } })).toEqual([
      "openai.models/__PROTO__",
    ]);
    const dropped = parsePriceTable(
      JSON.parse('{"openai": {"__proto__": {"inputPerMillion": 1, "outputPerMillion": 1}}}'),
    );
    expect(Object.keys(dropped.openai ?? {})).toEqual([]);
    expect(issuesOf("not a table")).toEqual([""]);
  });
});

describe("mergePriceTables", () => {
  const base: PriceTable = {
    openai: {
      "gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25 },
      "gpt-4": { inputPerMillion: 30, outputPerMillion: 60 },
    },
    sim: { "*": { inputPerMillion: 0, outputPerMillion: 0 } },
  };

  it("lets the override win per model, replacing the whole price, and keeps the rest of both", () => {
    const merged = mergePriceTables(base, {
      openai: {
        "gpt-4o": { inputPerMillion: 2, outputPerMillion: 8 },
        "my-finetune": { inputPerMillion: 3, outputPerMillion: 12 },
      },
      vllm: { "*": { inputPerMillion: 0.1, outputPerMillion: 0.1 } },
    });
    expect(merged.openai?.["gpt-4o"]).toEqual({ inputPerMillion: 2, outputPerMillion: 8 });
    expect(merged.openai?.["gpt-4"]).toEqual(base.openai?.["gpt-4"]);
    expect(merged.openai?.["my-finetune"]).toEqual({ inputPerMillion: 3, outputPerMillion: 12 });
    expect(merged.vllm?.["*"]).toEqual({ inputPerMillion: 0.1, outputPerMillion: 0.1 });
    expect(merged.sim).toEqual(base.sim);
  });

  it("matches override names after normalising them, and modifies neither input", () => {
    const snapshot = structuredClone(base);
    const merged = mergePriceTables(base, {
      openai: { "GPT-4o-latest": { inputPerMillion: 1, outputPerMillion: 1 } },
      constructor: {},
    });
    expect(Object.keys(merged.openai ?? {})).toEqual(["gpt-4o", "gpt-4"]);
    expect(findPrice(merged, "openai", "gpt-4o-2024-08-06")).toEqual({ inputPerMillion: 1, outputPerMillion: 1 });
    expect(base).toEqual(snapshot);
    expect(Object.hasOwn(merged, "constructor")).toBe(true);
  });
});
