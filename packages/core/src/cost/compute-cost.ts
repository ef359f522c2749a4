import type { TokenUsage } from "../schema/results.js";
import { findPrice } from "./find-price.js";
import type { PriceTable } from "./price-table.js";

export interface CostResult {
  /** USD, rounded to 1e-8; null when the model has no price (or the usage is unusable). */
  cost: number | null;
  /** Why the cost is null, for the step's log line. */
  warning?: string;
}

const TOKENS_PER_PRICE_UNIT = 1_000_000;
const ROUNDING = 1e8;

function isTokenCount(value: number | undefined): boolean {
  return value === undefined || (Number.isFinite(value) && value >= 0);
}

function missingPriceWarning(provider: string, model: string): string {
  const example = JSON.stringify({
    [provider]: { [model]: { inputPerMillion: 0, outputPerMillion: 0, cachedInputPerMillion: 0 } },
  });
  return (
    `no price for model "${model}" of provider "${provider}", so its cost is not counted; ` +
    `add the model's USD prices per million tokens to the price table override, e.g. ${example} ` +
    `(cachedInputPerMillion, cacheWritePerMillion and cacheWrite1hPerMillion optional), or a "*" model entry to price every model of "${provider}"`
  );
}

/**
 * The USD cost of one provider call. Never throws: a missing price must not
 * fail a step whose answer is already paid for.
 *
 * Assumptions about `usage` (the provider adapters must map vendors' reports to them):
 * - `promptTokens` is the whole prompt: plain input plus cache reads plus cache writes.
 * - `cachedTokens` (cache reads) are billed at `cachedInputPerMillion`;
 *   `cacheWriteTokens` at `cacheWritePerMillion`, except their `cacheWrite1hTokens`
 *   at `cacheWrite1hPerMillion`; the rest of the prompt at the input price. A price
 *   the table lacks falls back to the input price (1-hour writes: to the write price).
 * - `reasoningTokens` are already counted in `completionTokens` (as OpenAI and
 *   Anthropic report them), so they are not added again: all completion tokens
 *   are billed at the output price.
 * - `totalTokens` is not used.
 * - With `batch` (the vendor's batch API answered), plain input and output are billed at
 *   the batch prices where the table has them; cache reads and writes at their own prices.
 */
export function computeCost(
  usage: TokenUsage,
  provider: string,
  model: string,
  table: PriceTable,
  options: { batch?: boolean } = {},
): CostResult {
  const price = findPrice(table, provider, model);
  if (!price) return { cost: null, warning: missingPriceWarning(provider, model) };
  const counts = [
    usage.promptTokens,
    usage.completionTokens,
    usage.cachedTokens,
    usage.cacheWriteTokens,
    usage.cacheWrite1hTokens,
  ];
  if (!counts.every(isTokenCount)) {
    return {
      cost: null,
      warning: `unusable token usage from "${provider}" model "${model}": ${JSON.stringify(usage)}`,
    };
  }
  // Each part is capped by what is left of the prompt, so a vendor's inconsistent report
  // never makes the plain input negative nor bills a token twice.
  const reads = Math.min(usage.cachedTokens ?? 0, usage.promptTokens);
  const writes = Math.min(usage.cacheWriteTokens ?? 0, usage.promptTokens - reads);
  const hourWrites = Math.min(usage.cacheWrite1hTokens ?? 0, writes);
  const plain = usage.promptTokens - reads - writes;
  const writePrice = price.cacheWritePerMillion ?? price.inputPerMillion;
  const inputPrice = (options.batch ? price.batchInputPerMillion : undefined) ?? price.inputPerMillion;
  const outputPrice = (options.batch ? price.batchOutputPerMillion : undefined) ?? price.outputPerMillion;
  // tokens × USD per million tokens = millionths of a dollar.
  const micros =
    plain * inputPrice +
    reads * (price.cachedInputPerMillion ?? price.inputPerMillion) +
    (writes - hourWrites) * writePrice +
    hourWrites * (price.cacheWrite1hPerMillion ?? writePrice) +
    usage.completionTokens * outputPrice;
  return { cost: Math.round((micros / TOKENS_PER_PRICE_UNIT) * ROUNDING) / ROUNDING };
}
