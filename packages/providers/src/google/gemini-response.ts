import type { TokenUsage } from "@ensemble/core";
import type { GenerateContentResponse, GenerateContentResponseUsageMetadata } from "@google/genai";
import { tokenUsage } from "../adapter-kit/token-usage.js";
import type { FinishReason } from "../provider-adapter.js";

const FILTERED = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
  "IMAGE_RECITATION",
]);

export function geminiFinishReason(reason: string | undefined): FinishReason {
  if (reason === "STOP") return "stop";
  if (reason === "MAX_TOKENS") return "length";
  if (reason !== undefined && FILTERED.has(reason)) return "content_filter";
  return "other";
}

/** The answer text of one response (or stream chunk): the first candidate's text parts, thoughts left out. */
export function geminiText(response: GenerateContentResponse): string {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  return parts.map((part) => (part.text !== undefined && !part.thought ? part.text : "")).join("");
}

/** A finish reason, or a blocked prompt (no candidates, promptFeedback.blockReason) as content_filter. */
export function geminiFinish(response: GenerateContentResponse): FinishReason | undefined {
  const reason = response.candidates?.[0]?.finishReason;
  if (reason) return geminiFinishReason(reason);
  if (response.promptFeedback?.blockReason) return "content_filter";
  return undefined;
}

/**
 * Gemini counts thinking tokens apart from candidatesTokenCount, while TokenUsage counts
 * reasoning inside completionTokens (see core's computeCost); cached content is part of the prompt.
 */
export function geminiUsage(usage: GenerateContentResponseUsageMetadata): TokenUsage {
  const thoughts = usage.thoughtsTokenCount;
  return tokenUsage({
    promptTokens: usage.promptTokenCount ?? 0,
    completionTokens: (usage.candidatesTokenCount ?? 0) + (thoughts ?? 0),
    totalTokens: usage.totalTokenCount,
    cachedTokens: usage.cachedContentTokenCount,
    reasoningTokens: thoughts,
  });
}

interface GoogleErrorBody {
  error?: { message?: unknown; details?: unknown };
}

/**
 * The SDK's ApiError carries no headers, only the error body as JSON in its message
 * (`{"error":{…}}`, or `got status: …. {…}` from a stream): this reads the vendor's message and
 * the RetryInfo wait (`"retryDelay": "31s"`) that Gemini sends with a 429 instead of Retry-After.
 */
export function describeGeminiError(err: unknown): { vendorMessage?: string; retryAfterMs?: number } {
  const text = (err as { message?: unknown } | null)?.message;
  if (typeof text !== "string") return {};
  const start = text.indexOf("{");
  if (start < 0) return {};
  let body: GoogleErrorBody;
  try {
    body = JSON.parse(text.slice(start)) as GoogleErrorBody;
  } catch {
    return {};
  }
  const out: { vendorMessage?: string; retryAfterMs?: number } = {};
  if (typeof body.error?.message === "string" && body.error.message) out.vendorMessage = body.error.message;
  const details = Array.isArray(body.error?.details) ? (body.error.details as unknown[]) : [];
  for (const detail of details) {
    const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
    const match = typeof delay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(delay.trim()) : null;
    if (match) out.retryAfterMs = Math.ceil(Number.parseFloat(match[1] as string) * 1000);
  }
  return out;
}
