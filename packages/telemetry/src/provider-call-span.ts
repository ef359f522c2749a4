import { SpanKind, type Attributes } from "@opentelemetry/api";
import { failSpan } from "./run-trace.js";
import { tracer, tracingEnabled } from "./tracing.js";

/** What the span of one provider call is told before the call (OpenTelemetry GenAI conventions). */
export interface ProviderCallStart {
  /** The provider key the step names (`openai`, `anthropic`, `google`, `sim`, an OpenAI-compatible key). */
  provider: string;
  model: string;
  settings: { temperature?: number; maxTokens?: number; topP?: number };
  attempt: number;
  fallbackIndex?: number;
  /** The request's messages; recorded only with `ENSEMBLE_TRACE_CONTENT=true`. */
  messages: { role: string; content: string }[];
}

export interface ProviderCallEnd {
  model: string;
  finishReason: string;
  usage: {
    promptTokens: number;
    completionTokens: number;
    cachedTokens?: number;
    cacheWriteTokens?: number;
    reasoningTokens?: number;
  };
  text: string;
  costUsd?: number;
}

/** `gen_ai.provider.name` of a provider key: the well-known names, else the key itself. */
const GEN_AI_PROVIDER: Record<string, string> = { google: "gcp.gemini" };

/**
 * Runs one provider call inside a `chat <model>` client span with the GenAI attributes:
 * provider, request and response model, token usage (cached and reasoning too), finish
 * reason, cost, retry attempt and fallback index. Prompts and outputs are recorded only when
 * `ENSEMBLE_TRACE_CONTENT=true`; they are the request as sent, so the data-sharing policy
 * that shaped the request has already applied.
 */
export async function withProviderCallSpan<T>(
  start: ProviderCallStart,
  call: () => Promise<T>,
  end: (result: T) => ProviderCallEnd,
): Promise<T> {
  if (!tracingEnabled()) return call();
  const providerName = GEN_AI_PROVIDER[start.provider] ?? start.provider;
  const attributes: Attributes = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": providerName,
    "gen_ai.system": providerName,
    "gen_ai.request.model": start.model,
    "ensemble.provider": start.provider,
    "ensemble.attempt": start.attempt,
    ...(start.fallbackIndex !== undefined ? { "ensemble.fallback_index": start.fallbackIndex } : {}),
    ...(start.settings.temperature !== undefined ? { "gen_ai.request.temperature": start.settings.temperature } : {}),
    ...(start.settings.maxTokens !== undefined ? { "gen_ai.request.max_tokens": start.settings.maxTokens } : {}),
    ...(start.settings.topP !== undefined ? { "gen_ai.request.top_p": start.settings.topP } : {}),
  };
  const withContent = process.env.ENSEMBLE_TRACE_CONTENT === "true";
  if (withContent) attributes["gen_ai.input.messages"] = JSON.stringify(start.messages);
  return tracer().startActiveSpan(`chat ${start.model}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await call();
      const done = end(result);
      span.setAttributes({
        "gen_ai.response.model": done.model,
        "gen_ai.response.finish_reasons": [done.finishReason],
        "gen_ai.usage.input_tokens": done.usage.promptTokens,
        "gen_ai.usage.output_tokens": done.usage.completionTokens,
        ...(done.usage.cachedTokens !== undefined
          ? { "gen_ai.usage.cache_read.input_tokens": done.usage.cachedTokens }
          : {}),
        ...(done.usage.cacheWriteTokens !== undefined
          ? { "gen_ai.usage.cache_creation.input_tokens": done.usage.cacheWriteTokens }
          : {}),
        ...(done.usage.reasoningTokens !== undefined
          ? { "ensemble.usage.reasoning_tokens": done.usage.reasoningTokens }
          : {}),
        ...(done.costUsd !== undefined ? { "ensemble.cost_usd": done.costUsd } : {}),
        ...(withContent
          ? { "gen_ai.output.messages": JSON.stringify([{ role: "assistant", content: done.text }]) }
          : {}),
      });
      return result;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
