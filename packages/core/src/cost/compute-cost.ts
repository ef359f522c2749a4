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
    `(cachedInputPerMillion optional), or a "*" model entry to price every model of "${provider}"`
  );
}

/**
 * The USD cost of one provider call. Never throws: a missing price must not
 * fail a step whose answer is already paid for.
 *
 * Assumptions about `usage` (the provider adapters must map vendors' reports to them):
 * - `cachedTokens` is the part of `promptTokens` served from the prompt cache,
 *   billed at `cachedInputPerMillion` (or at the input price when the table has
 *   none); the rest of the prompt is billed at the input price.
 * - `reasoningTokens` are already counted in `completionTokens` (as OpenAI and
 *   Anthropic report them), so they are not added again: all completion tokens
 *   are billed at the output price.
 * - `totalTokens` is not used.
 */
export function computeCost(usage: TokenUsage, provider: string, model: string, table: PriceTable): CostResult {
  const price = findPrice(table, provider, model);
  if (!price) return { cost: null, warning: missingPriceWarning(provider, model) };
  if (![usage.promptTokens, usage.completionTokens, usage.cachedTokens].every(isTokenCount)) {
    return {
      cost: null,
      warning: `unusable token usage from "${provider}" model "${model}": ${JSON.stringify(usage)}`,
    };
  }
  // A vendor reporting more cached than prompt tokens would otherwise make the uncached part negative.
  const cached = Math.min(usage.cachedTokens ?? 0, usage.promptTokens);
  const uncached = usage.promptTokens - cached;
  // tokens × USD per million tokens = millionths of a dollar.
  const micros =
    uncached * price.inputPerMillion +
    cached * (price.cachedInputPerMillion ?? price.inputPerMillion) +
    usage.completionTokens * price.outputPerMillion;
  return { cost: Math.round((micros / TOKENS_PER_PRICE_UNIT) * ROUNDING) / ROUNDING };
}
