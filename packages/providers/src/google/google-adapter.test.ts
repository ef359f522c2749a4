import { describeVendorAdapterContract } from "../adapter-kit/vendor-adapter-contract.js";
import { vendorRequest } from "../adapter-kit/vendor-test-helpers.js";
import { startFakeGemini, type FakeVendorServer } from "../testing/index.js";
import { describeGeminiError } from "./gemini-response.js";
import { createGoogleAdapter } from "./google-adapter.js";

describeVendorAdapterContract({
  key: "google",
  model: "gemini-2.5-flash",
  startServer: () => startFakeGemini(),
  createAdapter: (server, apiKey) => createGoogleAdapter({ apiKey: apiKey ?? server.apiKey, baseUrl: server.url }),
  unauthorizedMessage: "API key not valid",
  reportsCacheWrites: false,
});

describe("google request mapping", () => {
  let server: FakeVendorServer;
  beforeAll(async () => {
    server = await startFakeGemini();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());
  const adapter = (): ReturnType<typeof createGoogleAdapter> =>
    createGoogleAdapter({ apiKey: server.apiKey, baseUrl: server.url });

  it("sends systemInstruction, user/model roles and the settings as generationConfig, the key in a header", async () => {
    await adapter().call(
      vendorRequest("gemini-2.5-pro", {
        settings: { temperature: 0.4, maxTokens: 256, topP: 0.8, stopSequences: ["END"] },
      }),
    );
    const [request] = server.requests;
    expect(request?.path).toBe("/v1/models/gemini-2.5-pro:generateContent");
    expect(request?.headers["x-goog-api-key"]).toBe(server.apiKey);
    expect(request?.query).not.toHaveProperty("key");
    expect(request?.body).toEqual({
      contents: [
        { role: "user", parts: [{ text: "What is 2+2?" }] },
        { role: "model", parts: [{ text: "4" }] },
        { role: "user", parts: [{ text: "And 3+3?" }] },
      ],
      systemInstruction: expect.objectContaining({ parts: [{ text: "You are terse." }] }),
      generationConfig: { temperature: 0.4, maxOutputTokens: 256, topP: 0.8, stopSequences: ["END"] },
    });
  });

  it("streams from streamGenerateContent with alt=sse", async () => {
    await adapter().call(vendorRequest("gemini-2.5-flash", { onToken: () => undefined }));
    expect(server.requests[0]).toMatchObject({
      path: "/v1/models/gemini-2.5-flash:streamGenerateContent",
      query: { alt: "sse" },
      stream: true,
    });
  });

  it("counts thinking tokens inside completionTokens (Gemini reports them apart from the candidates)", async () => {
    server.script({ text: "ok", usage: { promptTokens: 10, completionTokens: 50, reasoningTokens: 45 } });
    const result = await adapter().call(vendorRequest("gemini-2.5-pro"));
    expect(result.usage).toEqual({ promptTokens: 10, completionTokens: 50, totalTokens: 60, reasoningTokens: 45 });
  });

  it("maps a SAFETY finish to content_filter", async () => {
    server.script({ text: "", finishReason: "content_filter" });
    expect(await adapter().call(vendorRequest("gemini-2.5-flash"))).toMatchObject({
      text: "",
      finishReason: "content_filter",
    });
  });

  it("reads the vendor message and RetryInfo out of the SDK's error text", () => {
    const body = {
      error: {
        code: 429,
        message: "Quota exceeded",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31.5s" }],
      },
    };
    expect(describeGeminiError(new Error(JSON.stringify(body)))).toEqual({
      vendorMessage: "Quota exceeded",
      retryAfterMs: 31_500,
    });
    expect(describeGeminiError(new Error(`got status: RESOURCE_EXHAUSTED. ${JSON.stringify(body)}`))).toEqual({
      vendorMessage: "Quota exceeded",
      retryAfterMs: 31_500,
    });
    expect(describeGeminiError(new Error("fetch failed"))).toEqual({});
  });
});
