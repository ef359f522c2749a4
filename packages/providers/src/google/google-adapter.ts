import type { GenerateContentResponseUsageMetadata } from "@google/genai";
import { lazyClient } from "../adapter-kit/lazy-client.js";
import { runVendorCall } from "../adapter-kit/run-vendor-call.js";
import { tokenSink } from "../adapter-kit/token-sink.js";
import type { FinishReason, ProviderAdapter, ProviderCallRequest, ProviderCallResult } from "../provider-adapter.js";
import { estimateUsage } from "../sim/estimate-usage.js";
import { geminiRequest } from "./gemini-request.js";
import { describeGeminiError, geminiFinish, geminiText, geminiUsage } from "./gemini-response.js";

export const GOOGLE_PROVIDER_KEY = "google";
export const GOOGLE_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";

export interface GoogleAdapterOptions {
  apiKey: string;
  /** Default https://generativelanguage.googleapis.com (no version: the SDK adds `/v1`). */
  baseUrl?: string;
  /** Default the SDK's (`v1` in @google/genai 3.x). */
  apiVersion?: string;
}

const UNDICI_GLOBAL_DISPATCHER = Symbol.for("undici.globalDispatcher.1");

/**
 * @google/genai sends through undici's global dispatcher, which a separate realm (a jest test
 * environment, a vm context) does not see: there it fails with "Undici globalDispatcher is not
 * available". Giving it a fetch of its own makes it skip the dispatcher; undici's default
 * 300 s header/body timeouts then apply, as they do to the other SDKs.
 */
function fetchForThisRealm(): typeof fetch | undefined {
  // Node sets the dispatcher up lazily, on first use of its fetch classes (the SDK does the same).
  new Headers();
  if ((globalThis as Record<symbol, unknown>)[UNDICI_GLOBAL_DISPATCHER] !== undefined) return undefined;
  return (input, init) => fetch(input, init);
}

/** The `google` provider: Gemini's generateContent, and streamGenerateContent (SSE) when the caller wants tokens. */
export function createGoogleAdapter(options: GoogleAdapterOptions): ProviderAdapter {
  const realmFetch = fetchForThisRealm();
  const client = lazyClient(async () => {
    const { GoogleGenAI } = await import("@google/genai");
    return new GoogleGenAI({
      apiKey: options.apiKey,
      // Explicit, so GOOGLE_GENAI_USE_VERTEXAI and friends in the environment change nothing.
      vertexai: false,
      httpOptions: {
        baseUrl: options.baseUrl ?? GOOGLE_DEFAULT_BASE_URL,
        ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
        // No retryOptions: the SDK then sends each request once; the engine retries per step.
        ...(realmFetch ? { fetch: realmFetch } : {}),
      },
    });
  });

  function result(
    request: ProviderCallRequest,
    text: string,
    finishReason: FinishReason | undefined,
    usage: GenerateContentResponseUsageMetadata | undefined,
    modelVersion: string | undefined,
  ): ProviderCallResult {
    return {
      text,
      finishReason: finishReason ?? "other",
      usage: usage ? geminiUsage(usage) : estimateUsage(request.messages, text),
      model: modelVersion || request.model,
    };
  }

  async function complete(request: ProviderCallRequest, abortSignal: AbortSignal): Promise<ProviderCallResult> {
    const { contents, config } = geminiRequest(request.messages, request.settings);
    const sdk = await client();
    const response = await sdk.models.generateContent({
      model: request.model,
      contents,
      config: { ...config, abortSignal },
    });
    return result(request, geminiText(response), geminiFinish(response), response.usageMetadata, response.modelVersion);
  }

  async function stream(request: ProviderCallRequest, abortSignal: AbortSignal): Promise<ProviderCallResult> {
    const emit = tokenSink(GOOGLE_PROVIDER_KEY, request.signal, request.onToken);
    const { contents, config } = geminiRequest(request.messages, request.settings);
    const sdk = await client();
    const chunks = await sdk.models.generateContentStream({
      model: request.model,
      contents,
      config: { ...config, abortSignal },
    });
    let text = "";
    let finishReason: FinishReason | undefined;
    let usage: GenerateContentResponseUsageMetadata | undefined;
    let modelVersion: string | undefined;
    // Each event is a whole response holding the next piece of text; usage is complete on the last one.
    for await (const chunk of chunks) {
      usage = chunk.usageMetadata ?? usage;
      modelVersion = chunk.modelVersion ?? modelVersion;
      const delta = geminiText(chunk);
      if (delta) {
        text += delta;
        emit(delta);
      }
      finishReason = geminiFinish(chunk) ?? finishReason;
    }
    return result(request, text, finishReason, usage, modelVersion);
  }

  return {
    key: GOOGLE_PROVIDER_KEY,
    async call(request) {
      // The SDK does not close a stream the caller leaves early: aborting our own signal when the
      // call is over does, whatever ended it (done, onToken threw, cancel).
      const connection = new AbortController();
      const onAbort = (): void => connection.abort(request.signal.reason);
      request.signal.addEventListener("abort", onAbort, { once: true });
      try {
        return await runVendorCall(
          { provider: GOOGLE_PROVIDER_KEY, signal: request.signal, describeError: describeGeminiError },
          () => (request.onToken ? stream(request, connection.signal) : complete(request, connection.signal)),
        );
      } finally {
        request.signal.removeEventListener("abort", onAbort);
        connection.abort();
      }
    },
  };
}
