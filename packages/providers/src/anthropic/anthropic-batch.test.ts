import { batchItems, batchRequest } from "../adapter-kit/vendor-test-helpers.js";
import type { ProviderBatchApi } from "../provider-adapter.js";
import { startFakeAnthropic, type FakeVendorServer } from "../testing/index.js";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import { anthropicMessagesBody } from "./anthropic-request.js";

describe("anthropic batch API", () => {
  let server: FakeVendorServer;
  let api: ProviderBatchApi;
  const signal = new AbortController().signal;
  beforeAll(async () => {
    server = await startFakeAnthropic({ batches: { completionDelayMs: 40 } });
    const adapter = createAnthropicAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    if (!adapter.batch) throw new Error("the anthropic adapter has a batch API");
    api = adapter.batch;
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it("submits each request with the body a synchronous call sends, and maps each answer", async () => {
    server.script(
      { text: "six", usage: { promptTokens: 40, completionTokens: 1, cachedTokens: 0, cacheWriteTokens: 0 } },
      { status: 529 },
    );
    const requests = [batchRequest("s1", "claude-sonnet-4-5"), batchRequest("s2", "claude-sonnet-4-5", "busy")];
    const batchId = await api.submit(requests, signal);
    expect(batchId).toMatch(/^msgbatch_/);
    expect(server.batches[0]?.items.map((item) => item.request.body)).toEqual(
      requests.map((r) => JSON.parse(JSON.stringify(anthropicMessagesBody(r.model, r.messages, r.settings)))),
    );
    expect(await api.poll(batchId, signal)).toEqual({ state: "in_progress" });
    expect(await batchItems(api, batchId)).toEqual([
      {
        customId: "s1",
        outcome: "succeeded",
        result: {
          text: "six",
          finishReason: "stop",
          model: "claude-sonnet-4-5",
          usage: expect.objectContaining({ promptTokens: 40, completionTokens: 1 }),
        },
      },
      {
        customId: "s2",
        outcome: "errored",
        error: expect.objectContaining({
          code: "server_error",
          retryable: true,
          status: 529,
          message: expect.stringContaining("Overloaded"),
        }),
      },
    ]);
    expect(server.requests.some((r) => r.path === "/v1/messages")).toBe(false);
  });

  it("reports the requests of an expired batch as not run", async () => {
    server.configureBatches({ outcome: "expired" });
    const batchId = await api.submit([batchRequest("s1", "claude-haiku-4-5")], signal);
    expect(await batchItems(api, batchId)).toEqual([{ customId: "s1", outcome: "not_run", reason: "expired" }]);
  });

  it("cancels a batch: its requests end not run", async () => {
    server.configureBatches({ completionDelayMs: 60_000 });
    const batchId = await api.submit([batchRequest("s1", "claude-haiku-4-5")], signal);
    await api.cancel(batchId, signal);
    expect(await batchItems(api, batchId)).toEqual([{ customId: "s1", outcome: "not_run", reason: "cancelled" }]);
  });

  it("rejects with a ProviderError naming the field on a refused batch", async () => {
    await expect(
      api.submit([batchRequest("same", "claude-haiku-4-5"), batchRequest("same", "claude-haiku-4-5")], signal),
    ).rejects.toMatchObject({
      name: "ProviderError",
      code: "bad_request",
      message: expect.stringContaining("custom_id"),
    });
  });
});
