import type Anthropic from "@anthropic-ai/sdk";
import { runVendorCall } from "../adapter-kit/run-vendor-call.js";
import { toProviderError } from "../errors/classify-http-error.js";
import type { ProviderBatchApi, ProviderBatchItem } from "../provider-adapter.js";
import { anthropicMessagesBody } from "./anthropic-request.js";
import { anthropicErrorMessage, anthropicMessageResult, describeAnthropicError } from "./anthropic-response.js";

/** The HTTP status of each Anthropic error type (the API pairs them one to one), for an errored batch request. */
const ERROR_TYPE_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export interface AnthropicBatchApiOptions {
  key: string;
  client: () => Promise<Anthropic>;
}

function item(line: Anthropic.Messages.MessageBatchIndividualResponse, key: string): ProviderBatchItem {
  const customId = line.custom_id;
  const { result } = line;
  switch (result.type) {
    case "succeeded":
      return { customId, outcome: "succeeded", result: anthropicMessageResult(result.message, result.message.model) };
    case "errored": {
      const type = result.error.error.type;
      const vendorMessage = anthropicErrorMessage({ error: result.error });
      const error = toProviderError(
        key,
        { status: ERROR_TYPE_STATUS[type] ?? 500, message: `batch request failed (${type})` },
        vendorMessage ? { vendorMessage } : {},
      );
      return { customId, outcome: "errored", error };
    }
    case "canceled":
      return { customId, outcome: "not_run", reason: "cancelled" };
    case "expired":
      return { customId, outcome: "not_run", reason: "expired" };
    default: {
      const unknown: never = result;
      throw new Error(`anthropic: unknown batch result ${JSON.stringify(unknown)}`);
    }
  }
}

/** Anthropic's Message Batches: each request the body a synchronous call would send. */
export function createAnthropicBatchApi(options: AnthropicBatchApiOptions): ProviderBatchApi {
  const { key, client } = options;
  const run = <T>(signal: AbortSignal, call: (sdk: Anthropic) => Promise<T>): Promise<T> =>
    runVendorCall({ provider: key, signal, describeError: describeAnthropicError }, async () => call(await client()));

  return {
    submit(requests, signal) {
      return run(signal, async (sdk) => {
        const batch = await sdk.messages.batches.create(
          {
            requests: requests.map((request) => ({
              custom_id: request.customId,
              params: anthropicMessagesBody(request.model, request.messages, request.settings),
            })),
          },
          { signal },
        );
        return batch.id;
      });
    },
    poll(batchId, signal) {
      return run(signal, async (sdk) => {
        const batch = await sdk.messages.batches.retrieve(batchId, {}, { signal });
        if (batch.processing_status !== "ended") return { state: "in_progress" as const };
        const items: ProviderBatchItem[] = [];
        for await (const line of await sdk.messages.batches.results(batchId, {}, { signal }))
          items.push(item(line, key));
        return { state: "ended" as const, items };
      });
    },
    async cancel(batchId, signal) {
      await run(signal, (sdk) => sdk.messages.batches.cancel(batchId, {}, { signal }));
    },
  };
}
