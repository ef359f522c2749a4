import type OpenAI from "openai";
import { tokenUsage } from "../adapter-kit/token-usage.js";
import type { FinishReason, ProviderCallRequest, ProviderCallResult } from "../provider-adapter.js";
import type { TokenUsage } from "@ensemble/core";
import { estimateUsage } from "../sim/estimate-usage.js";

export function openAIFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "stop":
      return "stop";
    case "length":
      return "length";
    case "content_filter":
      return "content_filter";
    default:
      return "other";
  }
}

/**
 * OpenAI's usage: cache reads (cached_tokens) and, where a compatible server reports them,
 * cache writes (cache_write_tokens) are part of prompt_tokens, reasoning tokens part of
 * completion_tokens — as in TokenUsage, so nothing is added or subtracted.
 */
export function openAIUsage(usage: OpenAI.CompletionUsage): TokenUsage {
  return tokenUsage({
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens,
    cacheWriteTokens: usage.prompt_tokens_details?.cache_write_tokens,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens,
  });
}

/** The message OpenAI (or a compatible server) put in its error body, if the SDK parsed one. */
export function openAIErrorMessage(err: unknown): string | undefined {
  const body = (err as { error?: unknown } | null)?.error;
  const message = typeof body === "object" && body !== null ? (body as { message?: unknown }).message : undefined;
  return typeof message === "string" && message ? message : undefined;
}

/** A non-streamed completion (a call's, or a batch item's) as a result; no usage reported: estimated. */
export function openAICompletionResult(
  completion: OpenAI.Chat.ChatCompletion,
  request: Pick<ProviderCallRequest, "model" | "messages">,
): ProviderCallResult {
  const choice = completion.choices[0];
  const text = choice?.message.content ?? "";
  return {
    text,
    finishReason: openAIFinishReason(choice?.finish_reason),
    usage: completion.usage ? openAIUsage(completion.usage) : estimateUsage(request.messages, text),
    model: completion.model || request.model,
  };
}
