import { ANY_MODEL, type Price, type PriceTable } from "./price-table.js";

function price(inputPerMillion: number, outputPerMillion: number, cachedInputPerMillion?: number): Price {
  return cachedInputPerMillion === undefined
    ? { inputPerMillion, outputPerMillion }
    : { inputPerMillion, outputPerMillion, cachedInputPerMillion };
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
 * Not modelled: long-context surcharges (Gemini 2.5 Pro and 1.5 Pro above
 * 200k/128k prompt tokens, Claude Sonnet 4/4.5 above 200k), Anthropic's
 * cache-write premium, batch discounts. Some entries below are not in any
 * request's list on purpose: a dated or suffixed name falls back to its
 * longest listed prefix, so `o1-mini` must be listed or it would be priced as
 * `o1` (14× too high); likewise `gpt-5-nano`, `gpt-5-pro`, `claude-opus-4-5`,
 * `gemini-2.0-flash-lite`, `gemini-1.5-flash-8b`.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = frozen({
  openai: {
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
  },
  // Anthropic bills a prompt-cache read at a tenth of the input price.
  anthropic: {
    "claude-3-opus": price(15, 75, 1.5),
    "claude-3-sonnet": price(3, 15, 0.3),
    "claude-3-haiku": price(0.25, 1.25, 0.03),
    "claude-3-5-sonnet": price(3, 15, 0.3),
    "claude-3-5-haiku": price(0.8, 4, 0.08),
    "claude-3-7-sonnet": price(3, 15, 0.3),
    "claude-sonnet-4": price(3, 15, 0.3),
    "claude-sonnet-4-5": price(3, 15, 0.3),
    "claude-opus-4": price(15, 75, 1.5),
    "claude-opus-4-1": price(15, 75, 1.5),
    "claude-opus-4-5": price(5, 25, 0.5),
    // Listed so they are not priced as their prefix `claude-opus-4` ($15/$75) or `claude-sonnet-4`.
    "claude-opus-4-6": price(5, 25, 0.5),
    "claude-opus-4-7": price(5, 25, 0.5),
    "claude-opus-4-8": price(5, 25, 0.5),
    "claude-sonnet-4-6": price(3, 15, 0.3),
    "claude-haiku-4-5": price(1, 5, 0.1),
  },
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
