import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";

/**
 * Token counting for the context budget, with a real BPE tokenizer (o200k_base,
 * GPT-4o's). Other vendors tokenize differently; for a budget that caps shared
 * context this is close enough, and it is deterministic.
 */
export interface TokenCounter {
  count(text: string): number;
  /** The last `maxTokens` tokens of a text (the newest part survives). */
  keepLast(text: string, maxTokens: number): string;
}

let encoder: Tiktoken | undefined;

function getEncoder(): Tiktoken {
  // Built on first use: the rank table takes ~100 ms to load.
  encoder ??= new Tiktoken(o200kBase);
  return encoder;
}

export const defaultTokenCounter: TokenCounter = {
  count(text) {
    return text ? getEncoder().encode(text).length : 0;
  },
  keepLast(text, maxTokens) {
    if (maxTokens <= 0) return "";
    const tokens = getEncoder().encode(text);
    return tokens.length <= maxTokens ? text : getEncoder().decode(tokens.slice(tokens.length - maxTokens));
  },
};
