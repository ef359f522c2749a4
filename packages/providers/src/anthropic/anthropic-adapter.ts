import type Anthropic from "@anthropic-ai/sdk";
import { lazyClient } from "../adapter-kit/lazy-client.js";
import { runVendorCall } from "../adapter-kit/run-vendor-call.js";
import { tokenSink } from "../adapter-kit/token-sink.js";
import { DEFAULT_VENDOR_TIMEOUT_MS } from "../adapter-kit/vendor-timeout.js";
import type { ProviderAdapter, ProviderCallRequest, ProviderCallResult } from "../provider-adapter.js";
import { createAnthropicBatchApi } from "./anthropic-batch.js";
import { anthropicMessagesBody } from "./anthropic-request.js";
import {
  describeAnthropicError,
  anthropicFinishReason,
  anthropicMessageResult,
  anthropicUsage,
  mergeAnthropicUsage,
  type AnthropicUsageFields,
} from "./anthropic-response.js";

export const ANTHROPIC_PROVIDER_KEY = "anthropic";
export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";

export interface AnthropicAdapterOptions {
  apiKey: string;
  /** Default https://api.anthropic.com (no `/v1`: the SDK adds it). */
  baseUrl?: string;
  /** Client-side cap per request, ms; default 10 minutes. */
  timeoutMs?: number;
}

/** The `anthropic` provider: the Messages API, streamed as named events when the caller wants tokens. */
export function createAnthropicAdapter(options: AnthropicAdapterOptions): ProviderAdapter {
  const client = lazyClient(async () => {
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    return new Anthropic({
      apiKey: options.apiKey,
      // Nothing from the environment: the SDK would otherwise add ANTHROPIC_AUTH_TOKEN as a bearer token.
      authToken: null,
      baseURL: options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
      maxRetries: 0,
      // Explicit, so the SDK does not refuse a large non-streamed max_tokens ("streaming is required…"): the step timeout governs.
      timeout: options.timeoutMs ?? DEFAULT_VENDOR_TIMEOUT_MS,
      logLevel: "warn",
    });
  });

  async function complete(
    request: ProviderCallRequest,
    body: Anthropic.MessageCreateParamsNonStreaming,
  ): Promise<ProviderCallResult> {
    const message = await (await client()).messages.create(body, { signal: request.signal });
    return anthropicMessageResult(message, request.model);
  }

  async function stream(
    request: ProviderCallRequest,
    body: Anthropic.MessageCreateParamsNonStreaming,
  ): Promise<ProviderCallResult> {
    const emit = tokenSink(ANTHROPIC_PROVIDER_KEY, request.signal, request.onToken);
    const events = await (await client()).messages.create({ ...body, stream: true }, { signal: request.signal });
    let text = "";
    let stopReason: string | null | undefined;
    let usage: AnthropicUsageFields = {};
    let model = "";
    // Leaving the loop early (onToken threw, abort) ends the iterator, and the SDK closes the connection.
    for await (const event of events) {
      switch (event.type) {
        case "message_start":
          model = event.message.model;
          usage = { ...event.message.usage };
          break;
        case "content_block_delta":
          if (event.delta.type === "text_delta") {
            text += event.delta.text;
            emit(event.delta.text);
          }
          break;
        case "message_delta":
          stopReason = event.delta.stop_reason ?? stopReason;
          usage = mergeAnthropicUsage(usage, event.usage);
          break;
        default:
          break;
      }
    }
    return {
      text,
      finishReason: anthropicFinishReason(stopReason),
      usage: anthropicUsage(usage),
      model: model || request.model,
    };
  }

  return {
    key: ANTHROPIC_PROVIDER_KEY,
    batch: createAnthropicBatchApi({ key: ANTHROPIC_PROVIDER_KEY, client }),
    call(request) {
      const body = anthropicMessagesBody(request.model, request.messages, request.settings);
      return runVendorCall(
        { provider: ANTHROPIC_PROVIDER_KEY, signal: request.signal, describeError: describeAnthropicError },
        () => (request.onToken ? stream(request, body) : complete(request, body)),
      );
    },
  };
}
