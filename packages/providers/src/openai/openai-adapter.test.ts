import { describeVendorAdapterContract } from "../adapter-kit/vendor-adapter-contract.js";
import { vendorRequest } from "../adapter-kit/vendor-test-helpers.js";
import { startFakeOpenAI, type FakeVendorServer } from "../testing/index.js";
import { createOpenAIAdapter } from "./openai-adapter.js";
import { isOpenAIReasoningModel } from "./openai-request.js";

describeVendorAdapterContract({
  key: "openai",
  model: "gpt-4o-mini",
  startServer: () => startFakeOpenAI(),
  createAdapter: (server, apiKey) => createOpenAIAdapter({ apiKey: apiKey ?? server.apiKey, baseUrl: server.url }),
  unauthorizedMessage: "Incorrect API key provided",
  reportsCacheWrites: false,
});

describe("openai request mapping", () => {
  let server: FakeVendorServer;
  beforeAll(async () => {
    server = await startFakeOpenAI();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it("sends the messages as they are (system role included) and maps every setting", async () => {
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    await adapter.call(
      vendorRequest("gpt-4.1", { settings: { temperature: 0.3, maxTokens: 200, topP: 0.9, stopSequences: ["END"] } }),
    );
    const [request] = server.requests;
    expect(request?.path).toBe("/v1/chat/completions");
    expect(request?.headers.authorization).toBe(`Bearer ${server.apiKey}`);
    expect(request?.body).toEqual({
      model: "gpt-4.1",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "What is 2+2?" },
        { role: "assistant", content: "4" },
        { role: "user", content: "And 3+3?" },
      ],
      temperature: 0.3,
      max_completion_tokens: 200,
      top_p: 0.9,
      stop: ["END"],
      prompt_cache_key: "ensemble-flow-flow-1",
    });
    expect(request?.system).toBe("You are terse.");
  });

  it("asks for usage in the stream", async () => {
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    await adapter.call(vendorRequest("gpt-4o", { onToken: () => undefined }));
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it("drops temperature, top_p and stop for reasoning models, which reject them, and keeps the token cap", async () => {
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    await adapter.call(
      vendorRequest("o4-mini", { settings: { temperature: 0.3, maxTokens: 500, topP: 0.9, stopSequences: ["END"] } }),
    );
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect(body.max_completion_tokens).toBe(500);
    expect(body).not.toHaveProperty("temperature");
    expect(body).not.toHaveProperty("top_p");
    expect(body).not.toHaveProperty("stop");
  });

  it.each([
    ["o1", true],
    ["o3-mini-2025-01-31", true],
    ["o4-mini", true],
    ["gpt-5", true],
    ["gpt-5.1-mini", true],
    ["gpt-5-chat-latest", false],
    ["gpt-4o", false],
    ["gpt-4.1-nano", false],
    ["omni-moderation", false],
  ])("%s is a reasoning model: %s", (model, expected) => {
    expect(isOpenAIReasoningModel(model)).toBe(expected);
  });

  it("surfaces a 404 for an unknown model as not_found with OpenAI's message", async () => {
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    server.script({ status: 404 });
    await expect(adapter.call(vendorRequest("gpt-9"))).rejects.toMatchObject({
      code: "not_found",
      retryable: false,
      message: "openai: HTTP 404 (not_found): The model `gpt-9` does not exist or you do not have access to it.",
    });
  });
});
