import type { ChatMessage } from "@ensemble/core";
import { createAnthropicAdapter } from "../anthropic/anthropic-adapter.js";
import { createGoogleAdapter } from "../google/google-adapter.js";
import { createOpenAIAdapter } from "../openai/openai-adapter.js";
import { createOpenAICompatibleAdapter } from "../openai-compatible/openai-compatible-adapter.js";
import type { ProviderAdapter } from "../provider-adapter.js";
import { startFakeAnthropic, startFakeGemini, startFakeOpenAI, type FakeVendorServer } from "../testing/index.js";
import { vendorRequest } from "./vendor-test-helpers.js";

// A flow's steps as buildStepMessages sends them: system prompt, thread history and original request
// alike (about 2,000 tokens), then each step's own part.
const SYSTEM = "You review drafts.";
const HISTORY = "Earlier in this thread: " + "the quarterly report covers revenue, costs and outlook. ".repeat(140);
const ORIGINAL = "Original request:\nSummarise the thread for the board.";

function stepMessages(own: string, history = HISTORY): ChatMessage[] {
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: history },
    { role: "assistant", content: "Noted." },
    { role: "user", content: `${ORIGINAL}\n\n${own}`, stablePrefixLength: ORIGINAL.length },
  ];
}

const call = (
  adapter: ProviderAdapter,
  model: string,
  own: string,
  options: { stream?: boolean; flowId?: string; history?: string } = {},
) =>
  adapter.call(
    vendorRequest(model, {
      messages: stepMessages(own, options.history),
      trace: { flowId: options.flowId ?? "flow-1", stepId: "s", iteration: 0, attempt: 0 },
      ...(options.stream ? { onToken: () => undefined } : {}),
    }),
  );

describe("prompt caching through the official SDKs", () => {
  const servers: FakeVendorServer[] = [];
  const start = async (server: Promise<FakeVendorServer>) => {
    const started = await server;
    servers.push(started);
    return started;
  };
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it("Anthropic: a cache_control breakpoint ends the stable prefix; the first step writes it, the next read it", async () => {
    const server = await start(startFakeAnthropic());
    const adapter = createAnthropicAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    const first = await call(adapter, "claude-sonnet-4-5", "Draft an answer.");
    const second = await call(adapter, "claude-sonnet-4-5", "Critique the draft.", { stream: true });

    const body = server.requests[1]?.body as { system: unknown; messages: { role: string; content: unknown }[] };
    expect(body.system).toBe(SYSTEM);
    expect(body.messages.slice(0, 2)).toEqual([
      { role: "user", content: HISTORY },
      { role: "assistant", content: "Noted." },
    ]);
    expect(body.messages[2]).toEqual({
      role: "user",
      content: [
        { type: "text", text: ORIGINAL, cache_control: { type: "ephemeral" } },
        { type: "text", text: "\n\nCritique the draft." },
      ],
    });
    // The prefix is written once (billed 1.25×), then read (0.1×); the step's own part is plain input.
    const prefix = first.usage.cacheWriteTokens ?? 0;
    expect(prefix).toBeGreaterThan(1024);
    expect(first.usage).toMatchObject({ cachedTokens: 0, cacheWrite1hTokens: 0 });
    expect(second.usage).toMatchObject({ cachedTokens: prefix, cacheWriteTokens: 0 });
    expect(second.usage.promptTokens).toBeGreaterThan(prefix);
  });

  it("Anthropic: a prefix too short to cache gets no breakpoint", async () => {
    const server = await start(startFakeAnthropic());
    const adapter = createAnthropicAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    const result = await call(adapter, "claude-sonnet-4-5", "Draft.", { history: "Short thread." });
    expect(JSON.stringify(server.requests[0]?.body)).not.toContain("cache_control");
    expect(result.usage).toMatchObject({ cachedTokens: 0, cacheWriteTokens: 0 });
  });

  it("OpenAI: the prefix is byte-identical and prompt_cache_key names the flow; later steps read the cache", async () => {
    const server = await start(startFakeOpenAI());
    const adapter = createOpenAIAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    const first = await call(adapter, "gpt-4.1", "Draft an answer.");
    const second = await call(adapter, "gpt-4.1", "Critique the draft.", { stream: true });
    const otherFlow = await call(adapter, "gpt-4.1", "Critique the draft.", { flowId: "flow-2" });

    const bodies = server.requests.map((r) => r.body as { prompt_cache_key: string; messages: unknown[] });
    expect(bodies.map((b) => b.prompt_cache_key)).toEqual([
      "ensemble-flow-flow-1",
      "ensemble-flow-flow-1",
      "ensemble-flow-flow-2",
    ]);
    const prompts = server.requests.map((r) => r.prompt);
    expect(prompts[1]?.startsWith(prompts[0]?.slice(0, prompts[0].indexOf("Draft an answer.")) ?? "-")).toBe(true);
    expect(first.usage.cachedTokens).toBe(0);
    // OpenAI caches in 128-token steps; reads are part of prompt_tokens.
    expect(second.usage.cachedTokens).toBeGreaterThanOrEqual(1024);
    expect((second.usage.cachedTokens ?? 0) % 128).toBe(0);
    expect(second.usage.cachedTokens).toBeLessThan(second.usage.promptTokens);
    expect(otherFlow.usage.cachedTokens).toBe(0);
  });

  it("an OpenAI-compatible server gets no prompt_cache_key", async () => {
    const server = await start(startFakeOpenAI());
    const adapter = createOpenAICompatibleAdapter({ name: "vllm", baseUrl: server.url, apiKey: server.apiKey });
    await call(adapter, "llama3", "Draft.");
    expect(server.requests[0]?.body).not.toHaveProperty("prompt_cache_key");
  });

  it("Gemini: implicit caching serves the shared prefix with nothing added to the request", async () => {
    const server = await start(startFakeGemini());
    const adapter = createGoogleAdapter({ apiKey: server.apiKey, baseUrl: server.url });
    const first = await call(adapter, "gemini-2.5-flash", "Draft an answer.");
    const second = await call(adapter, "gemini-2.5-flash", "Critique the draft.", { stream: true });
    expect(JSON.stringify(server.requests.map((r) => r.body))).not.toMatch(/cache/i);
    expect(first.usage.cachedTokens).toBeUndefined();
    expect(second.usage.cachedTokens).toBeGreaterThan(1024);
  });
});
