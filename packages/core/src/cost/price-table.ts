import { z } from "zod";
import { ValidationError } from "../errors/validation-error.js";
import { issuesFromZod } from "../errors/zod-issues.js";
import { PROVIDER_KEY_PATTERN } from "../schema/flow-definition.js";
import { normalizeModelName } from "./model-name.js";

/** The model key that prices every model of a provider without its own entry (e.g. the offline `sim` provider, a local endpoint). */
export const ANY_MODEL = "*";

/** A model's list price in USD per million tokens. */
export const PriceSchema = z.strictObject({
  inputPerMillion: z.number().nonnegative().finite(),
  outputPerMillion: z.number().nonnegative().finite(),
  /** Prompt tokens read from the vendor's prompt cache; absent → billed at the input price. */
  cachedInputPerMillion: z.number().nonnegative().finite().optional(),
  /** Prompt tokens written to the prompt cache (Anthropic's 5-minute entries); absent → billed at the input price. */
  cacheWritePerMillion: z.number().nonnegative().finite().optional(),
  /** Prompt tokens written as 1-hour cache entries (Anthropic); absent → billed at cacheWritePerMillion. */
  cacheWrite1hPerMillion: z.number().nonnegative().finite().optional(),
  /** Input and output of a call the vendor's batch API answered; absent → the standard prices. */
  batchInputPerMillion: z.number().nonnegative().finite().optional(),
  batchOutputPerMillion: z.number().nonnegative().finite().optional(),
});
export type Price = z.infer<typeof PriceSchema>;

/** provider key → model name (or `"*"`) → price. */
export const PriceTableSchema = z.record(
  z.string().regex(PROVIDER_KEY_PATTERN, "must be a provider key such as openai, anthropic, google, sim"),
  z.record(
    z
      .string()
      .min(1, "a model name must not be empty")
      .max(200)
      // Assigning it to a plain object would replace the object's prototype instead of adding a model.
      .refine((name) => normalizeModelName(name) !== "__proto__", "is not a model name"),
    PriceSchema,
  ),
);
export type PriceTable = z.infer<typeof PriceTableSchema>;

/**
 * Validates a price table from configuration (e.g. a JSON override);
 * throws a ValidationError naming each bad entry by its path (`openai.gpt-4o.inputPerMillion`).
 */
export function parsePriceTable(json: unknown): PriceTable {
  const parsed = PriceTableSchema.safeParse(json);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error));
  return parsed.data;
}

/**
 * `override` wins per model: its entries replace the base's whole price for
 * that model (a partial price would mix two price lists), and models or
 * providers only in one table are kept. Model names are stored normalised
 * (`normalizeModelName`), so `GPT-4o` or `gpt-4o-latest` in an override
 * replaces `gpt-4o` rather than sitting beside it. Neither input is modified.
 */
export function mergePriceTables(base: PriceTable, override: PriceTable): PriceTable {
  const merged: PriceTable = {};
  for (const table of [base, override]) {
    for (const [provider, models] of Object.entries(table)) {
      // hasOwn, not `??=`: a provider key such as "constructor" must not find Object.prototype's.
      const target = Object.hasOwn(merged, provider)
        ? (merged[provider] as Record<string, Price>)
        : (merged[provider] = {});
      for (const [model, price] of Object.entries(models)) target[normalizeModelName(model)] = { ...price };
    }
  }
  return merged;
}
