import { describeVendorAdapterContract } from "../adapter-kit/vendor-adapter-contract.js";
import { vendorRequest } from "../adapter-kit/vendor-test-helpers.js";
import { startFakeAnthropic, type FakeVendorServer } from "../testing/index.js";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import { ANTHROPIC_DEFAULT_MAX_TOKENS } from "./anthropic-request.js";

describeVendorAdapterContract({
  key: "anthropic",
  model: "claude-sonnet-4-6",
  startServer: () => startFakeAnthropic(),
  createAdapter: (server, apiKey) => createAnthropicAdapter({ apiKey: apiKey ?? server.apiKey, baseUrl: server.url }),
  unauthorizedMessage: "invalid x-api-key",
  reportsCacheWrites: true,
});

describe("anthropic request mapping", () => {
  let server: FakeVendorServer;
  beforeAll(async () => {
    server = await startFakeAnthropic();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());
  const adapter = (): ReturnType<typeof createAnthropicAdapter> =>
    createAnthropicAdapter({ apiKey: server.apiKey, baseUrl: server.url });

  it("sends the system prompt top-level, alternating turns, and maps every setting", async () => {
    await adapter().call(
      vendorRequest("claude-haiku-4-5", {
        settings: { temperature: 0.2, maxTokens: 300, stopSequences: ["END", "STOP"] },
      }),
    );
    const [request] = server.requests;
    expect(request?.path).toBe("/v1/messages");
    expect(request?.headers.authorization).toBe(`Bearer ${server.apiKey}`);
    expect(request?.headers["anthropic-version"]).toEqual(expect.any(String));
    expect(request?.body).toEqual({
      model: "claude-haiku-4-5",
      max_tokens: 300,
      system: "You are terse.",
      messages: [
        { role: "user", content: "What is 2+2?" },
        { role: "assistant", content: "4" },
        { role: "user", content: "And 3+3?" },
      ],
      stop_sequences: ["END", "STOP"],
    });
  });

  it("always sends max_tokens (Anthropic requires it): the documented default when the step sets none", async () => {
    await adapter().call(vendorRequest("claude-opus-4-1"));
    expect(server.requests[0]?.body).toMatchObject({ max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS });
    expect(ANTHROPIC_DEFAULT_MAX_TOKENS).toBe(4096);
  });

  it("sends neither temperature nor top_p: the API version 2026-10-21 has no sampling settings", async () => {
    await adapter().call(vendorRequest("claude-sonnet-4-6", { settings: { temperature: 0.7, topP: 0.5 } }));
    expect(server.requests[0]?.headers["anthropic-version"]).toBe("2026-10-21");
    expect(server.requests[0]?.body).not.toHaveProperty("temperature");
    expect(server.requests[0]?.body).not.toHaveProperty("top_p");
  });

  it("merges system messages anywhere and consecutive same-role messages, so turns alternate", async () => {
    await adapter().call(
      vendorRequest("claude-sonnet-4-6", {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Context: A." },
          { role: "system", content: "Answer in French." },
          { role: "user", content: "Question?" },
        ],
      }),
    );
    expect(server.requests[0]?.body).toMatchObject({
      system: "Be brief.\n\nAnswer in French.",
      messages: [{ role: "user", content: "Context: A.\n\nQuestion?" }],
    });
  });

  it("counts cache reads inside promptTokens, as core's cost arithmetic expects (Anthropic reports them apart)", async () => {
    server.script({ text: "ok", usage: { promptTokens: 1000, completionTokens: 5, cachedTokens: 800 } });
    const result = await adapter().call(vendorRequest("claude-sonnet-4-6"));
    expect(result.usage).toEqual({
      promptTokens: 1000,
      completionTokens: 5,
      totalTokens: 1005,
      cachedTokens: 800,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
    });
  });

  it("maps Anthropic's 529 overloaded to a retryable server_error with its message", async () => {
    server.script({ status: 529 });
    await expect(adapter().call(vendorRequest("claude-sonnet-4-6"))).rejects.toMatchObject({
      code: "server_error",
      retryable: true,
      message: "anthropic: HTTP 529 (server_error): Overloaded",
    });
  });
});
