import { defaultTokenCounter, type TokenCounter } from "../context/tokenizer.js";
import type { ChatMessage } from "../context/build-step-messages.js";
import type { TokenUsage } from "../schema/results.js";

/**
 * Texts up to this many characters are counted whole; a longer one is counted on its first
 * this many and scaled by its length. The count runs on the worker's event loop, beside
 * other calls whose leases it renews: a 2,000,000-character prompt counted whole takes
 * 0.6–0.7 s, this prefix 20–35 ms.
 */
export const EXACT_COUNT_CHARS = 65_536;

/**
 * The usage of a provider call cut off before its vendor reported any (a lost lease aborted
 * it): the request's messages and the output streamed until the cut, as `counter` counts them
 * (by default the context tokenizer, o200k_base). An estimate: other vendors tokenize
 * differently, each message's framing adds a few tokens, and output generated but not yet
 * streamed when the call was cut is not seen.
 */
export function estimateCutOffUsage(
  messages: readonly ChatMessage[],
  streamed: string,
  counter: TokenCounter = defaultTokenCounter,
): TokenUsage {
  let promptTokens = 0;
  for (const message of messages) promptTokens += estimateTokens(message.content, counter);
  const completionTokens = estimateTokens(streamed, counter);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** A text's tokens: counted whole up to EXACT_COUNT_CHARS, else from that prefix scaled by the text's length. */
export function estimateTokens(text: string, counter: TokenCounter = defaultTokenCounter): number {
  if (text.length <= EXACT_COUNT_CHARS) return counter.count(text);
  // Not cut between the two halves of a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(EXACT_COUNT_CHARS - 1)) ? EXACT_COUNT_CHARS - 1 : EXACT_COUNT_CHARS;
  return Math.ceil((counter.count(text.slice(0, end)) * text.length) / end);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
