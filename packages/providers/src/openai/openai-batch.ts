import type OpenAI from "openai";
import { runVendorCall } from "../adapter-kit/run-vendor-call.js";
import { toProviderError } from "../errors/classify-http-error.js";
import type { ChatMessage } from "@ensemble/core";
import type { ProviderBatchApi, ProviderBatchItem, ProviderCallRequest } from "../provider-adapter.js";
import { describeOpenAIError, openAIChatBodyFor, type OpenAIChatAdapterOptions } from "./openai-chat-adapter.js";
import { openAICompletionResult, openAIErrorMessage } from "./openai-response.js";

const ENDPOINT = "/v1/chat/completions";
const RUNNING = new Set(["validating", "in_progress", "finalizing", "cancelling"]);

export interface OpenAIBatchApiOptions extends Pick<OpenAIChatAdapterOptions, "maxTokensField" | "openAIModelRules"> {
  key: string;
  client: () => Promise<OpenAI>;
}

type Submitted = Pick<ProviderCallRequest, "model" | "messages">;

/** One line of the input file, as far as a result needs it. */
interface InputLine {
  custom_id?: string;
  body?: { model?: string; messages?: ChatMessage[] };
}

/** One line of a batch's output or error file. */
interface OutputLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string; message?: string } | null;
}

const NOT_RUN_CODES: Record<string, "expired" | "cancelled"> = {
  batch_expired: "expired",
  batch_cancelled: "cancelled",
};

/**
 * OpenAI's Batch API over Chat Completions: the requests go up as a JSONL file (each line the
 * body a synchronous call would send), the answers come back as output and error files.
 */
export function createOpenAIBatchApi(options: OpenAIBatchApiOptions): ProviderBatchApi {
  const { key, client } = options;
  const run = <T>(signal: AbortSignal, call: (sdk: OpenAI) => Promise<T>): Promise<T> =>
    runVendorCall({ provider: key, signal, describeError: describeOpenAIError }, async () => call(await client()));

  function item(line: OutputLine, requests: Map<string, Submitted>, status: string): ProviderBatchItem[] {
    const customId = line.custom_id;
    if (customId === undefined) return [];
    const response = line.response;
    if (response && (response.status_code ?? 200) < 400) {
      const completion = response.body as OpenAI.Chat.ChatCompletion;
      const request = requests.get(customId) ?? { model: completion.model, messages: [] };
      return [{ customId, outcome: "succeeded", result: openAICompletionResult(completion, request) }];
    }
    if (response) {
      const vendorMessage = openAIErrorMessage(response.body);
      const error = toProviderError(
        key,
        { status: response.status_code, message: "batch request failed" },
        vendorMessage ? { vendorMessage } : {},
      );
      return [{ customId, outcome: "errored", error }];
    }
    const reason = NOT_RUN_CODES[line.error?.code ?? ""] ?? (status === "cancelled" ? "cancelled" : "failed");
    return [{ customId, outcome: "not_run", reason }];
  }

  async function lines(sdk: OpenAI, fileId: string | null | undefined, signal: AbortSignal): Promise<unknown[]> {
    if (!fileId) return [];
    const text = await (await sdk.files.content(fileId, { signal })).text();
    return text
      .split("\n")
      .filter((line) => line.trim())
      .map((line): unknown => JSON.parse(line));
  }

  /**
   * The model and messages of each custom id, read back from the input file (the poll may run
   * in another process than the submit): an answer without usage is estimated from them.
   */
  async function submitted(sdk: OpenAI, fileId: string, signal: AbortSignal): Promise<Map<string, Submitted>> {
    const requests = new Map<string, Submitted>();
    for (const line of (await lines(sdk, fileId, signal)) as InputLine[]) {
      if (line.custom_id === undefined) continue;
      requests.set(line.custom_id, { model: line.body?.model ?? "", messages: line.body?.messages ?? [] });
    }
    return requests;
  }

  return {
    submit(requests, signal) {
      const jsonl = requests
        .map((request) =>
          JSON.stringify({
            custom_id: request.customId,
            method: "POST",
            url: ENDPOINT,
            body: openAIChatBodyFor(options, request),
          }),
        )
        .join("\n");
      return run(signal, async (sdk) => {
        const { toFile } = await import("openai");
        const file = await sdk.files.create(
          { file: await toFile(Buffer.from(jsonl), "ensemble-batch.jsonl"), purpose: "batch" },
          { signal },
        );
        const batch = await sdk.batches.create(
          { input_file_id: file.id, endpoint: ENDPOINT, completion_window: "24h" },
          { signal },
        );
        return batch.id;
      });
    },
    poll(batchId, signal) {
      return run(signal, async (sdk) => {
        const batch = await sdk.batches.retrieve(batchId, { signal });
        if (RUNNING.has(batch.status)) return { state: "in_progress" as const };
        const requests = await submitted(sdk, batch.input_file_id, signal);
        const answered: OutputLine[] = [
          ...((await lines(sdk, batch.output_file_id, signal)) as OutputLine[]),
          ...((await lines(sdk, batch.error_file_id, signal)) as OutputLine[]),
        ];
        return { state: "ended" as const, items: answered.flatMap((line) => item(line, requests, batch.status)) };
      });
    },
    async cancel(batchId, signal) {
      await run(signal, (sdk) => sdk.batches.cancel(batchId, { signal }));
    },
  };
}
