import { ANY_MODEL, type Price, type PriceTable } from "./price-table.js";

function price(inputPerMillion: number, outputPerMillion: number, cachedInputPerMillion?: number): Price {
  return cachedInputPerMillion === undefined
    ? { inputPerMillion, outputPerMillion }
    : { inputPerMillion, outputPerMillion, cachedInputPerMillion };
}

/**
 * Anthropic bills a cache read at a tenth of the input price, a 5-minute cache write at
 * 1.25× and a 1-hour write at 2× (Claude 3 Haiku, listed before these ratios, differs).
 */
function anthropicPrice(
  inputPerMillion: number,
  outputPerMillion: number,
  cache = { read: inputPerMillion * 0.1, write: inputPerMillion * 1.25, write1h: inputPerMillion * 2 },
): Price {
  // Rounded to 1e-6 $/M so that 0.8 × 1.25 reads as 1, not 1.0000000000000002.
  const at = (value: number) => Math.round(value * 1e6) / 1e6;
  return {
    inputPerMillion,
    outputPerMillion,
    cachedInputPerMillion: at(cache.read),
    cacheWritePerMillion: at(cache.write),
    cacheWrite1hPerMillion: at(cache.write1h),
  };
}

/** The vendor's batch API bills input and output at half the standard price (OpenAI Batch, Anthropic Message Batches). */
function withBatchPrices(models: Record<string, Price>): Record<string, Price> {
  return Object.fromEntries(
    Object.entries(models).map(([model, entry]) => [
      model,
      { ...entry, batchInputPerMillion: entry.inputPerMillion / 2, batchOutputPerMillion: entry.outputPerMillion / 2 },
    ]),
  );
}

/** Shared module state: findPrice hands out these very objects, so no caller may change them. */
function frozen(table: PriceTable): PriceTable {
  for (const models of Object.values(table)) {
    for (const entry of Object.values(models)) Object.freeze(entry);
    Object.freeze(models);
  }
  return Object.freeze(table);
}

/**
 * Vendors' list prices, USD per million tokens, standard (non-batch) tier, as
 * best known in 2026-11. Prices change: operators override entries with
 * configuration (see `mergePriceTables`), and a model missing here costs
 * null with a warning rather than a guess.
 *
 * Cache reads: OpenAI's and Gemini's cached-input prices, Anthropic's 0.1×.
 * Cache writes cost extra only at Anthropic (OpenAI's and Gemini's implicit
 * caches bill a write as plain input). Not modelled: long-context surcharges
 * (Gemini 2.5 Pro and 1.5 Pro above 200k/128k prompt tokens, Claude Sonnet
 * 4/4.5 above 200k), Gemini's explicit-cache storage. Batch prices (OpenAI and Anthropic:
 * half the input and output price) bill the steps a provider batch answered. Some entries below are not in any
 * request's list on purpose: a dated or suffixed name falls back to its
 * longest listed prefix, so `o1-mini` must be listed or it would be priced as
 * `o1` (14× too high); likewise `gpt-5-nano`, `gpt-5-pro`, `claude-opus-4-5`,
 * `gemini-2.0-flash-lite`, `gemini-1.5-flash-8b`.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = frozen({
  openai: withBatchPrices({
    "gpt-5": price(1.25, 10, 0.125),
    "gpt-5-mini": price(0.25, 2, 0.025),
    "gpt-5-nano": price(0.05, 0.4, 0.005),
    "gpt-5-pro": price(15, 120),
    "gpt-4.1": price(2, 8, 0.5),
    "gpt-4.1-mini": price(0.4, 1.6, 0.1),
    "gpt-4.1-nano": price(0.1, 0.4, 0.025),
    "gpt-4o": price(2.5, 10, 1.25),
    "gpt-4o-mini": price(0.15, 0.6, 0.075),
    "gpt-4-turbo": price(10, 30),
    "gpt-4": price(30, 60),
    "gpt-4-32k": price(60, 120),
    "gpt-3.5-turbo": price(0.5, 1.5),
    o1: price(15, 60, 7.5),
    "o1-mini": price(1.1, 4.4, 0.55),
    "o1-pro": price(150, 600),
    o3: price(2, 8, 0.5),
    "o3-mini": price(1.1, 4.4, 0.55),
    "o3-pro": price(20, 80),
    "o4-mini": price(1.1, 4.4, 0.275),
  }),
  anthropic: withBatchPrices({
    "claude-3-opus": anthropicPrice(15, 75),
    "claude-3-sonnet": anthropicPrice(3, 15),
    "claude-3-haiku": anthropicPrice(0.25, 1.25, { read: 0.03, write: 0.3, write1h: 0.5 }),
    "claude-3-5-sonnet": anthropicPrice(3, 15),
    "claude-3-5-haiku": anthropicPrice(0.8, 4),
    "claude-3-7-sonnet": anthropicPrice(3, 15),
    "claude-sonnet-4": anthropicPrice(3, 15),
    "claude-sonnet-4-5": anthropicPrice(3, 15),
    "claude-opus-4": anthropicPrice(15, 75),
    "claude-opus-4-1": anthropicPrice(15, 75),
    "claude-opus-4-5": anthropicPrice(5, 25),
    // Listed so they are not priced as their prefix `claude-opus-4` ($15/$75) or `claude-sonnet-4`.
    "claude-opus-4-6": anthropicPrice(5, 25),
    "claude-opus-4-7": anthropicPrice(5, 25),
    "claude-opus-4-8": anthropicPrice(5, 25),
    "claude-sonnet-4-6": anthropicPrice(3, 15),
    "claude-haiku-4-5": anthropicPrice(1, 5),
  }),
  google: {
    "gemini-pro": price(0.5, 1.5),
    "gemini-1.0-pro": price(0.5, 1.5),
    "gemini-1.5-pro": price(1.25, 5, 0.3125),
    "gemini-1.5-flash": price(0.075, 0.3, 0.01875),
    "gemini-1.5-flash-8b": price(0.0375, 0.15, 0.01),
    "gemini-2.0-flash": price(0.1, 0.4, 0.025),
    "gemini-2.0-flash-lite": price(0.075, 0.3),
    "gemini-2.5-pro": price(1.25, 10, 0.125),
    "gemini-2.5-flash": price(0.3, 2.5, 0.03),
    "gemini-2.5-flash-lite": price(0.1, 0.4, 0.01),
  },
  // The offline simulator costs nothing, whatever model name a test gives it.
  sim: { [ANY_MODEL]: price(0, 0) },
});
