import type OpenAI from "openai";
import { runVendorCall } from "../adapter-kit/run-vendor-call.js";
import { tokenSink } from "../adapter-kit/token-sink.js";
import type { ProviderAdapter, ProviderCallRequest, ProviderCallResult } from "../provider-adapter.js";
import { estimateUsage } from "../sim/estimate-usage.js";
import { isOpenAIReasoningModel, openAIChatBody, openAIPromptCacheKey, type MaxTokensField } from "./openai-request.js";
import { openAICompletionResult, openAIErrorMessage, openAIFinishReason, openAIUsage } from "./openai-response.js";

export interface OpenAIChatAdapterOptions {
  /** The provider key flow steps name. */
  key: string;
  /** The SDK client, made on first use. */
  client: () => Promise<OpenAI>;
  maxTokensField: MaxTokensField;
  /**
   * OpenAI's own rules (true for api.openai.com only): drop temperature, top_p and stop for its
   * reasoning models, and set a `prompt_cache_key` per flow (a compatible server may reject it).
   */
  openAIModelRules: boolean;
}

/** The body a call (or a batch request) sends, under the adapter's rules. */
export function openAIChatBodyFor(
  options: Pick<OpenAIChatAdapterOptions, "maxTokensField" | "openAIModelRules">,
  request: Pick<ProviderCallRequest, "model" | "messages" | "settings" | "trace">,
): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const samplingSupported = !(options.openAIModelRules && isOpenAIReasoningModel(request.model));
  return openAIChatBody(request.model, request.messages, request.settings, {
    maxTokensField: options.maxTokensField,
    samplingSupported,
    ...(options.openAIModelRules ? { promptCacheKey: openAIPromptCacheKey(request.trace.flowId) } : {}),
  });
}

export function describeOpenAIError(err: unknown): { vendorMessage?: string } {
  const vendorMessage = openAIErrorMessage(err);
  return vendorMessage ? { vendorMessage } : {};
}

/**
 * A ProviderAdapter over the Chat Completions API, shared by the `openai` adapter and every
 * OpenAI-compatible endpoint. Streams when the caller wants tokens (usage from the final
 * `include_usage` chunk); a server that reports no usage gets the ~4-characters-per-token estimate.
 */
export function createOpenAIChatAdapter(options: OpenAIChatAdapterOptions): ProviderAdapter {
  const { key, client } = options;

  async function complete(
    request: ProviderCallRequest,
    body: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
  ): Promise<ProviderCallResult> {
    const completion = await (await client()).chat.completions.create(body, { signal: request.signal });
    return openAICompletionResult(completion, request);
  }

  async function stream(
    request: ProviderCallRequest,
    body: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
  ): Promise<ProviderCallResult> {
    const emit = tokenSink(key, request.signal, request.onToken);
    const sdk = await client();
    const chunks = await sdk.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { signal: request.signal },
    );
    let text = "";
    let finishReason: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    let model = "";
    // Leaving the loop early (onToken threw, abort) ends the iterator, and the SDK closes the connection.
    for await (const chunk of chunks) {
      model ||= chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      const delta = choice.delta?.content;
      if (delta) {
        text += delta;
        emit(delta);
      }
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    return {
      text,
      finishReason: openAIFinishReason(finishReason),
      usage: usage ? openAIUsage(usage) : estimateUsage(request.messages, text),
      model: model || request.model,
    };
  }

  return {
    key,
    call(request) {
      const body = openAIChatBodyFor(options, request);
      return runVendorCall({ provider: key, signal: request.signal, describeError: describeOpenAIError }, () =>
        request.onToken ? stream(request, body) : complete(request, body),
      );
    },
  };
}
