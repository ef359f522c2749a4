import { CONVERSATION, batchItems, batchRequest } from "../adapter-kit/vendor-test-helpers.js";
import type { ProviderBatchApi } from "../provider-adapter.js";
import { startFakeOpenAI, type FakeVendorServer } from "../testing/index.js";
import { createOpenAIAdapter } from "./openai-adapter.js";

describe("openai batch API", () => {
  let server: FakeVendorServer;
  let api: ProviderBatchApi;
  const signal = new AbortController().signal;
  beforeAll(async () => {
    server = await startFakeOpenAI({ batches: { completionDelayMs: 40 } });
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    if (!adapter.batch) throw new Error("the openai adapter has a batch API");
    api = adapter.batch;
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it("submits each request with the body a synchronous call sends, and maps each answer", async () => {
    server.script(
      { text: "four", usage: { promptTokens: 30, completionTokens: 2, cachedTokens: 10 } },
      { status: 400 },
    );
    const requests = [
      batchRequest("s1", "gpt-4o-mini"),
      batchRequest("s2", "o4-mini", "bad"),
      batchRequest("s3", "gpt-4o-mini", "hi"),
    ];
    requests[0] = { ...requests[0]!, settings: { temperature: 0.2, maxTokens: 50 } };
    const batchId = await api.submit(requests, signal);
    expect(batchId).toMatch(/^batch_/);
    expect(server.batches[0]?.items.map((item) => item.request.body)).toEqual([
      {
        model: "gpt-4o-mini",
        messages: CONVERSATION,
        temperature: 0.2,
        max_completion_tokens: 50,
        prompt_cache_key: "ensemble-flow-flow-1",
      },
      { model: "o4-mini", messages: [{ role: "user", content: "bad" }], prompt_cache_key: "ensemble-flow-flow-1" },
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], prompt_cache_key: "ensemble-flow-flow-1" },
    ]);
    expect(await api.poll(batchId, signal)).toEqual({ state: "in_progress" });
    const items = await batchItems(api, batchId);
    expect(items).toEqual([
      {
        customId: "s1",
        outcome: "succeeded",
        result: {
          text: "four",
          finishReason: "stop",
          model: "gpt-4o-mini",
          usage: expect.objectContaining({ promptTokens: 30, completionTokens: 2, cachedTokens: 10 }),
        },
      },
      {
        customId: "s2",
        outcome: "errored",
        error: expect.objectContaining({ code: "bad_request", retryable: false, status: 400 }),
      },
      {
        customId: "s3",
        outcome: "succeeded",
        result: expect.objectContaining({ text: "Reply from gpt-4o-mini: hi" }),
      },
    ]);
    expect(server.requests.map((r) => `${r.method} ${r.path}`).filter((r) => r.includes("chat/completions"))).toEqual(
      [],
    );
  });

  it("reports the requests of an expired batch as not run", async () => {
    server.configureBatches({ outcome: "expired" });
    const batchId = await api.submit([batchRequest("s1", "gpt-4o")], signal);
    expect(await batchItems(api, batchId)).toEqual([{ customId: "s1", outcome: "not_run", reason: "expired" }]);
  });

  it("cancels a batch: its requests end not run", async () => {
    server.configureBatches({ completionDelayMs: 60_000 });
    const batchId = await api.submit([batchRequest("s1", "gpt-4o"), batchRequest("s2", "gpt-4o")], signal);
    await api.cancel(batchId, signal);
    expect(await batchItems(api, batchId)).toEqual([
      { customId: "s1", outcome: "not_run", reason: "cancelled" },
      { customId: "s2", outcome: "not_run", reason: "cancelled" },
    ]);
  });

  it("ends a batch that failed validation with no items, and rejects with a ProviderError on a vendor error", async () => {
    server.configureBatches({ outcome: "failed" });
    const batchId = await api.submit([batchRequest("s1", "gpt-4o")], signal);
    expect(await batchItems(api, batchId)).toEqual([]);
    await expect(api.poll("batch_unknown", signal)).rejects.toMatchObject({
      name: "ProviderError",
      code: "not_found",
      message: expect.stringContaining("No batch found with id 'batch_unknown'"),
    });
  });
});
