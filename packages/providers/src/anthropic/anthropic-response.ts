import type Anthropic from "@anthropic-ai/sdk";
import type { TokenUsage } from "@ensemble/core";
import { tokenUsage } from "../adapter-kit/token-usage.js";
import type { FinishReason, ProviderCallResult } from "../provider-adapter.js";

export function anthropicFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}

/** The usage fields of a message (message_start) or of a message_delta, as far as present. */
export interface AnthropicUsageFields {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** The cache writes by entry lifetime; their sum is cache_creation_input_tokens. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

/**
 * Anthropic's input_tokens excludes the prompt-cache reads and writes, while TokenUsage counts
 * them inside promptTokens (see core's computeCost): the prompt is the sum of the three,
 * cachedTokens the reads, cacheWriteTokens the writes (cacheWrite1hTokens those of 1-hour
 * entries). Thinking tokens are part of output_tokens.
 */
export function anthropicUsage(usage: AnthropicUsageFields): TokenUsage {
  const cacheRead = usage.cache_read_input_tokens ?? undefined;
  const cacheWrite = usage.cache_creation_input_tokens ?? undefined;
  const promptTokens = (usage.input_tokens ?? 0) + (cacheWrite ?? 0) + (cacheRead ?? 0);
  return tokenUsage({
    promptTokens,
    completionTokens: usage.output_tokens ?? 0,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: usage.cache_creation?.ephemeral_1h_input_tokens,
    reasoningTokens: usage.output_tokens_details?.thinking_tokens,
  });
}

/** Merges a message_delta's usage (cumulative counts; null or absent = unchanged) over message_start's. */
export function mergeAnthropicUsage(start: AnthropicUsageFields, delta: AnthropicUsageFields): AnthropicUsageFields {
  const merged: AnthropicUsageFields = { ...start };
  for (const [field, value] of Object.entries(delta) as [
    keyof AnthropicUsageFields,
    AnthropicUsageFields[keyof AnthropicUsageFields],
  ][]) {
    if (value !== null && value !== undefined) (merged as Record<string, unknown>)[field] = value;
  }
  return merged;
}

/** The text of a message's content blocks (thinking and tool blocks are not the answer). */
export function anthropicText(content: readonly Anthropic.ContentBlock[]): string {
  return content.map((block) => (block.type === "text" ? block.text : "")).join("");
}

/** The message in Anthropic's error body `{type:"error", error:{type, message}}`, if the SDK parsed one. */
export function anthropicErrorMessage(err: unknown): string | undefined {
  const body = (err as { error?: { error?: { message?: unknown } } } | null)?.error;
  const message = body?.error?.message;
  return typeof message === "string" && message ? message : undefined;
}

/** A whole message (a call's, or a batch item's) as a result. */
export function anthropicMessageResult(message: Anthropic.Message, askedModel: string): ProviderCallResult {
  return {
    text: anthropicText(message.content),
    finishReason: anthropicFinishReason(message.stop_reason),
    usage: anthropicUsage(message.usage),
    model: message.model || askedModel,
  };
}

/** The vendor's message of an SDK error, for runVendorCall. */
export function describeAnthropicError(err: unknown): { vendorMessage?: string } {
  const vendorMessage = anthropicErrorMessage(err);
  return vendorMessage ? { vendorMessage } : {};
}
