import { readFileSync } from "node:fs";
import {
  DEFAULT_PRICE_TABLE,
  mergePriceTables,
  parsePriceTable,
  ValidationError,
  type PriceTable,
} from "@ensemble/core";
import { ProviderConfigError } from "./provider-env.js";

/**
 * The price table with the JSON file at `path` (PRICE_TABLE_FILE) merged over core's
 * DEFAULT_PRICE_TABLE: per model, the file's price wins. Throws ProviderConfigError naming the
 * variable, the file and each bad entry.
 */
export function priceTableFromFile(path: string, base: PriceTable = DEFAULT_PRICE_TABLE): PriceTable {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ProviderConfigError(
      `PRICE_TABLE_FILE: cannot read ${path}${typeof code === "string" ? ` (${code})` : ""}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProviderConfigError(`PRICE_TABLE_FILE: ${path} is not valid JSON`);
  }
  try {
    return mergePriceTables(base, parsePriceTable(json));
  } catch (err) {
    if (err instanceof ValidationError) throw new ProviderConfigError(`PRICE_TABLE_FILE: ${path}: ${err.message}`);
    throw err;
  }
}
