import { describeVendorAdapterContract } from "../adapter-kit/vendor-adapter-contract.js";
import { vendorRequest } from "../adapter-kit/vendor-test-helpers.js";
import { startFakeOpenAI, type FakeVendorServer } from "../testing/index.js";
import { createOpenAICompatibleAdapter } from "./openai-compatible-adapter.js";

describeVendorAdapterContract({
  key: "vllm",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  startServer: () => startFakeOpenAI(),
  createAdapter: (server, apiKey) =>
    createOpenAICompatibleAdapter({ name: "vllm", baseUrl: server.url, apiKey: apiKey ?? server.apiKey }),
  unauthorizedMessage: "Incorrect API key provided",
  reportsCacheWrites: false,
});

describe("openai-compatible endpoints", () => {
  let keyless: FakeVendorServer;
  beforeAll(async () => {
    keyless = await startFakeOpenAI({ keyless: true });
  });
  afterAll(() => keyless.close());
  beforeEach(() => keyless.reset());

  it("calls a keyless server (Ollama) without an Authorization header, under its own key", async () => {
    const adapter = createOpenAICompatibleAdapter({ name: "ollama", baseUrl: keyless.url });
    const deltas: string[] = [];
    const result = await adapter.call(vendorRequest("llama3.2:3b", { onToken: (d) => deltas.push(d) }));
    expect(adapter.key).toBe("ollama");
    expect(result.text).toBe("Reply from llama3.2:3b: And 3+3?");
    expect(deltas.join("")).toBe(result.text);
    expect(keyless.requests[0]?.headers).not.toHaveProperty("authorization");
  });

  it("sends max_tokens (what compatible servers read) and every sampling setting, whatever the model name", async () => {
    const adapter = createOpenAICompatibleAdapter({ name: "local", baseUrl: keyless.url });
    await adapter.call(
      vendorRequest("o3-distill", {
        settings: { temperature: 0.5, maxTokens: 64, topP: 0.7, stopSequences: ["\n\n"] },
      }),
    );
    expect(keyless.requests[0]?.body).toMatchObject({
      model: "o3-distill",
      temperature: 0.5,
      max_tokens: 64,
      top_p: 0.7,
      stop: ["\n\n"],
    });
    expect(keyless.requests[0]?.body).not.toHaveProperty("max_completion_tokens");
  });

  it("can send max_completion_tokens instead (Azure OpenAI's v1 API)", async () => {
    const adapter = createOpenAICompatibleAdapter({
      name: "azure",
      baseUrl: keyless.url,
      maxTokensField: "max_completion_tokens",
    });
    await adapter.call(vendorRequest("gpt-4o", { settings: { maxTokens: 64 } }));
    expect(keyless.requests[0]?.body).toMatchObject({ max_completion_tokens: 64 });
  });

  it("estimates usage (4 characters a token) when the server reports none, streamed or not", async () => {
    keyless.respondWith(() => ({ text: "abcdefgh", usage: null }));
    const adapter = createOpenAICompatibleAdapter({ name: "local", baseUrl: keyless.url });
    const request = vendorRequest("m", { messages: [{ role: "user", content: "123456789012" }] });
    const estimate = { promptTokens: 3, completionTokens: 2, totalTokens: 5 };
    expect((await adapter.call(request)).usage).toEqual(estimate);
    expect((await adapter.call({ ...request, onToken: () => undefined })).usage).toEqual(estimate);
  });

  it("refuses a provider name flows could not address", () => {
    expect(() => createOpenAICompatibleAdapter({ name: "My Server", baseUrl: keyless.url })).toThrow(
      'invalid provider name "My Server"',
    );
  });

  it("reports a server that is not listening as a retryable connection_error", async () => {
    const adapter = createOpenAICompatibleAdapter({ name: "down", baseUrl: "http://127.0.0.1:9/v1" });
    await expect(adapter.call(vendorRequest("m"))).rejects.toMatchObject({
      code: "connection_error",
      retryable: true,
      provider: "down",
    });
  });
});
