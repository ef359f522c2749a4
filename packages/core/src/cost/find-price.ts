import { normalizeModelName } from "./model-name.js";
import { ANY_MODEL, type Price, type PriceTable } from "./price-table.js";

function lookup(models: Readonly<Record<string, Price>>, key: string): Price | null {
  // hasOwn: a model named "constructor" must not find Object.prototype's.
  return Object.hasOwn(models, key) ? (models[key] as Price) : null;
}

/**
 * A model's price: the exact name first; else the longest listed name `k`
 * such that the model is `k-…` (a dated or suffixed release:
 * `claude-3-opus-20240229` → `claude-3-opus`, `gpt-4o-2024-08-06` → `gpt-4o`,
 * while `gpt-4o-mini` stays `gpt-4o-mini`); else the provider's `"*"` entry;
 * else null. Names are compared after `normalizeModelName`.
 */
export function findPrice(table: PriceTable, provider: string, model: string): Price | null {
  if (!Object.hasOwn(table, provider)) return null;
  const models = table[provider] as Record<string, Price>;
  const wanted = normalizeModelName(model);
  let best: { length: number; price: Price } | null = null;
  for (const [key, price] of Object.entries(models)) {
    if (key === ANY_MODEL) continue;
    const listed = normalizeModelName(key);
    if (listed === wanted) return price;
    if (wanted.startsWith(`${listed}-`) && (best === null || listed.length > best.length))
      best = { length: listed.length, price };
  }
  return best?.price ?? lookup(models, ANY_MODEL);
}
