import { startFakeVendors, type FakeVendors, startFakeOpenAI } from "./index.js";

const chat = (model: string, content: string): string =>
  JSON.stringify({ model, messages: [{ role: "user", content }] });

describe("fake vendor servers", () => {
  let vendors: FakeVendors;
  beforeAll(async () => {
    vendors = await startFakeVendors();
  });
  afterAll(() => vendors.close());
  beforeEach(() => vendors.reset());

  it("give a spawned worker its environment", () => {
    expect(vendors.env).toEqual({
      OPENAI_BASE_URL: `${vendors.openai.origin}/v1`,
      OPENAI_API_KEY: vendors.openai.apiKey,
      ANTHROPIC_BASE_URL: vendors.anthropic.origin,
      ANTHROPIC_API_KEY: vendors.anthropic.apiKey,
      GEMINI_BASE_URL: vendors.google.origin,
      GEMINI_API_KEY: vendors.google.apiKey,
    });
    expect(vendors.openai.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it("reject a wrong key with 401 in each vendor's error format", async () => {
    const openai = await fetch(`${vendors.openai.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer nope" },
      body: chat("gpt-4o", "hi"),
    });
    expect(openai.status).toBe(401);
    expect(await openai.json()).toMatchObject({
      error: {
        type: "invalid_request_error",
        code: "invalid_api_key",
        message: expect.stringContaining("Incorrect API key provided"),
      },
    });
    const anthropic = await fetch(`${vendors.anthropic.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "nope", "anthropic-version": "2023-06-01" },
      body: "{}",
    });
    expect(anthropic.status).toBe(401);
    expect(await anthropic.json()).toMatchObject({
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
    });
    const google = await fetch(`${vendors.google.url}/v1beta/models/gemini-2.5-flash:generateContent?key=nope`, {
      method: "POST",
      body: "{}",
    });
    expect(google.status).toBe(401);
    expect(await google.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    expect(vendors.openai.requests).toHaveLength(1);
  });

  it("use scripted replies in order, then the responder, then the default", async () => {
    const post = async (content: string): Promise<string> => {
      const res = await fetch(`${vendors.openai.url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${vendors.openai.apiKey}` },
        body: chat("m", content),
      });
      const body = (await res.json()) as { choices?: { message: { content: string } }[]; error?: { message: string } };
      return body.choices?.[0]?.message.content ?? `error ${res.status}: ${body.error?.message}`;
    };
    vendors.openai.script({ text: "one" }, { status: 503, errorMessage: "busy" });
    expect(await post("a")).toBe("one");
    expect(await post("b")).toBe("error 503: busy");
    expect(await post("c")).toBe("Reply from m: c");
    vendors.openai.respondWith((request) => `echo ${request.messages.at(-1)?.content}`);
    expect(await post("d")).toBe("echo d");
    expect(vendors.openai.requests.map((r) => r.prompt)).toEqual(["user: a", "user: b", "user: c", "user: d"]);
  });

  it("answer an unknown route with 404 in the vendor's format", async () => {
    const res = await fetch(`${vendors.openai.url}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${vendors.openai.apiKey}` },
      body: "{}",
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "model_not_found" } });
  });

  it("close promptly even with a request left hanging", async () => {
    const server = await startFakeOpenAI({ keyless: true });
    server.script({ hang: true });
    const pending = fetch(`${server.url}/chat/completions`, { method: "POST", body: chat("m", "x") }).catch(
      (err: unknown) => err,
    );
    await server.waitFor((requests) => requests.length === 1);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await pending).toMatchObject({ message: "fetch failed" });
  });
});
