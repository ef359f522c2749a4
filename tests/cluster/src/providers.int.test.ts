import {
  startFakeOpenAI,
  startFakeVendors,
  type FakeVendors,
  type FakeVendorServer,
} from "@ensemble/providers/testing";
import { readFileSync } from "node:fs";
import { createRedisConnection, ProgressBus } from "@ensemble/queue";
import { ApiClient, type FlowBody, type StepResultBody } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

/**
 * Issue 4 end to end: the API, the scheduler and two workers as separate processes call
 * the OpenAI, Anthropic and Google adapters (official SDKs) against local servers that
 * speak each vendor's wire format. Nothing here reaches the internet.
 */
describe("real providers through the cluster", () => {
  let vendors: FakeVendors;
  /** An OpenAI-compatible endpoint ("limited") with a cluster-wide rate limit. */
  let limited: FakeVendorServer;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;
  const RATE_WINDOW_MS = 2_000;
  const RATE_LIMIT = 4;

  beforeAll(async () => {
    vendors = await startFakeVendors();
    limited = await startFakeOpenAI({ keyless: true });
    cluster = await Cluster.start({
      workers: 2,
      env: {
        ...vendors.env,
        OPENAI_COMPATIBLE_ENDPOINTS: JSON.stringify([{ name: "limited", baseUrl: limited.url }]),
        PROVIDER_RATE_LIMITS: JSON.stringify({ limited: { requestsPerMinute: RATE_LIMIT } }),
        PROVIDER_RATE_LIMIT_WINDOW_MS: String(RATE_WINDOW_MS),
      },
    });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread("providers");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await limited?.close();
    await vendors?.close();
  });

  beforeEach(() => {
    for (const server of [vendors.openai, vendors.anthropic, vendors.google, limited]) server.reset();
  });

  const run = async (
    definition: unknown,
    input = "Explain vector clocks",
    extra: Record<string, unknown> = {},
  ): Promise<FlowBody & { result: Record<string, unknown> }> => {
    const flowId = await api.createFlow(threadId, definition);
    const res = await api.execute(flowId, { input, ...extra }, true);
    expect(res.status).toBe(200);
    return (await api.flow(flowId)) as FlowBody & { result: Record<string, unknown> };
  };
  const stepOf = (flow: FlowBody, stepId: string): StepResultBody => {
    const found = flow.stepResults.find((s) => s.stepId === stepId);
    if (!found) throw new Error(`no step ${stepId} in ${JSON.stringify(flow.stepResults)}`);
    return found;
  };

  it("runs a critique across three vendors: OpenAI generates, Anthropic critiques, Google refines — each priced, the flow totalled", async () => {
    vendors.openai.respondWith(() => ({
      text: "DRAFT: vector clocks order events",
      usage: { promptTokens: 1_000, completionTokens: 500 },
    }));
    vendors.anthropic.respondWith(() => ({
      text: "CRITIQUE: add an example",
      usage: { promptTokens: 2_000, completionTokens: 100 },
    }));
    vendors.google.respondWith(() => ({
      text: "FINAL: vector clocks, with an example",
      usage: { promptTokens: 3_000, completionTokens: 1_000 },
    }));
    const flow = await run({
      name: "three vendors",
      type: "critique",
      steps: [
        {
          id: "generate",
          provider: "openai",
          model: "gpt-4o",
          action: "generate",
          prompt: "{{ original }}",
          systemPrompt: "You are concise.",
          settings: { temperature: 0.3, maxTokens: 400 },
        },
        {
          id: "critique",
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          action: "critique",
          prompt: "Critique: {{ previous }}",
          settings: { maxTokens: 300 },
        },
        {
          id: "refine",
          provider: "google",
          model: "gemini-2.5-flash",
          action: "refine",
          prompt: "Improve {{ steps.generate.output }} using {{ previous }}",
          settings: { topP: 0.9 },
        },
      ],
    });
    expect(flow.status).toBe("completed");
    expect(flow.result?.finalOutput).toBe("FINAL: vector clocks, with an example");

    // What each vendor received, in its own format.
    const [openaiRequest] = vendors.openai.requests;
    expect(openaiRequest).toMatchObject({ model: "gpt-4o", system: "You are concise." });
    expect(openaiRequest?.body).toMatchObject({ temperature: 0.3 });
    expect(openaiRequest?.prompt).toContain("Explain vector clocks");
    expect(vendors.anthropic.requests[0]?.prompt).toContain("Critique: DRAFT: vector clocks order events");
    expect(vendors.anthropic.requests[0]?.body).toMatchObject({ model: "claude-sonnet-4-5", max_tokens: 300 });
    expect(vendors.google.requests[0]?.prompt).toContain(
      "Improve DRAFT: vector clocks order events using CRITIQUE: add an example",
    );

    // Per-step cost from the default price table (USD per million tokens), and the flow's total.
    const costs = {
      generate: (1_000 * 2.5 + 500 * 10) / 1e6,
      critique: (2_000 * 3 + 100 * 15) / 1e6,
      refine: (3_000 * 0.3 + 1_000 * 2.5) / 1e6,
    };
    for (const [stepId, cost] of Object.entries(costs)) {
      const step = stepOf(flow, stepId) as StepResultBody & { cost: number; usage: { totalTokens: number } };
      expect(step.cost).toBeCloseTo(cost, 8);
    }
    expect(flow.result.totalCost).toBeCloseTo(costs.generate + costs.critique + costs.refine, 6);
    expect(flow.result.totalTokens).toBe(1_500 + 2_100 + 4_000);
  });

  it("a flow's steps share a cached prefix: Anthropic's first step writes it (1.25× input), the next reads it (0.1×), each priced so", async () => {
    const longThread = await api.createThread("long thread");
    // About 1,850 tokens of history: long enough for Anthropic to cache (1,024 tokens for Claude Sonnet).
    const earlier = "The quarterly report covers revenue, costs and the outlook for next year. ".repeat(100);
    expect(
      (await api.request("POST", `/v1/threads/${longThread}/messages`, { role: "user", content: earlier })).status,
    ).toBe(201);
    vendors.anthropic.respondWith(() => ({ text: "ok", usage: { completionTokens: 10 } }));
    const flowId = await api.createFlow(longThread, {
      name: "cached prefix",
      type: "sequential",
      contextPolicy: { shareConversationHistory: true },
      steps: [
        {
          id: "draft",
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          action: "generate",
          prompt: "Draft an answer.",
        },
        {
          id: "review",
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          action: "critique",
          prompt: "Review: {{ previous }}",
        },
      ],
    });
    expect((await api.execute(flowId, { input: "Summarise the report" }, true)).status).toBe(200);
    const flow = await api.flow(flowId);
    expect(flow.status).toBe("completed");

    // Both requests mark the same prefix (history, original request) with a breakpoint.
    for (const request of vendors.anthropic.requests) {
      const content = (request.body as { messages: { content: { text: string; cache_control?: unknown }[] }[] })
        .messages[0]?.content;
      expect(content?.[0]).toMatchObject({ cache_control: { type: "ephemeral" } });
      expect(content?.[0]?.text.endsWith("Original request:\nSummarise the report")).toBe(true);
    }
    type Priced = StepResultBody & {
      cost: number;
      usage: { promptTokens: number; cachedTokens: number; cacheWriteTokens: number };
    };
    const draft = stepOf(flow, "draft") as Priced;
    const review = stepOf(flow, "review") as Priced;
    const prefix = draft.usage.cacheWriteTokens;
    expect(prefix).toBeGreaterThan(1024);
    expect(draft.usage).toMatchObject({ cachedTokens: 0, cacheWriteTokens: prefix });
    expect(review.usage).toMatchObject({ cachedTokens: prefix, cacheWriteTokens: 0 });
    // claude-sonnet-4-5: $3 input, $3.75 cache write, $0.30 cache read, $15 output per million.
    expect(draft.cost).toBeCloseTo(((draft.usage.promptTokens - prefix) * 3 + prefix * 3.75 + 10 * 15) / 1e6, 8);
    expect(review.cost).toBeCloseTo(((review.usage.promptTokens - prefix) * 3 + prefix * 0.3 + 10 * 15) / 1e6, 8);
  });

  it("streams: token deltas arrive in order as step_progress events tagged with the attempt, and usage comes from the stream", async () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
    vendors.google.respondWith(() => ({
      text: words.join(" "),
      chunkDelayMs: 10,
      usage: { promptTokens: 42, completionTokens: 60 },
    }));
    const flow = await run({
      name: "stream",
      type: "sequential",
      steps: [{ id: "a", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" }],
    });
    expect(flow.status).toBe("completed");
    expect(vendors.google.requests[0]?.stream).toBe(true);
    expect(stepOf(flow, "a") as StepResultBody & { usage: unknown }).toMatchObject({
      output: words.join(" "),
      usage: { promptTokens: 42, completionTokens: 60, totalTokens: 102 },
    });
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "test-events",
    });
    try {
      const events = await new ProgressBus({ publisher: redis, prefix: cluster.prefix }).readAfter(flow.id, 0);
      const progress = events.filter((e) => e.type === "step_progress");
      // Coalesced (not one event per word), in order, and together exactly the output.
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.length).toBeLessThan(words.length);
      expect(progress.map((e) => (e.data as { delta: string }).delta).join("")).toBe(words.join(" "));
      expect(progress.every((e) => (e.data as { attempt: number }).attempt === 0)).toBe(true);
      const ids = events.map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    } finally {
      await redis.quit();
    }
  });

  it("honours a 429's Retry-After, then succeeds on the retry", async () => {
    const arrivals: number[] = [];
    vendors.anthropic.respondWith(() => (arrivals.push(Date.now()), "recovered"));
    vendors.anthropic.script({ status: 429, retryAfterSeconds: 2, errorMessage: "rate limited, slow down" });
    const started = Date.now();
    const flow = await run({
      name: "429",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "anthropic",
          model: "claude-haiku-4-5",
          action: "generate",
          prompt: "{{ original }}",
          retryOnFailure: true,
          maxRetries: 2,
        },
      ],
    });
    expect(flow.status).toBe("completed");
    expect(stepOf(flow, "a")).toMatchObject({ status: "success", output: "recovered", retryCount: 1 });
    expect(vendors.anthropic.requests).toHaveLength(2);
    // The first attempt was answered at once; the retry came no sooner than Retry-After.
    expect((arrivals[0] as number) - started).toBeGreaterThanOrEqual(2_000);
  });

  it("when the primary's retries are spent on 500s, the fallback answers and the result names it", async () => {
    vendors.openai.respondWith(() => ({ status: 500, errorMessage: "upstream exploded" }));
    vendors.google.respondWith(() => "the fallback's answer");
    const flow = await run({
      name: "fallback",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "openai",
          model: "gpt-4o-mini",
          action: "generate",
          prompt: "{{ original }}",
          retryOnFailure: true,
          maxRetries: 1,
          fallbacks: [{ provider: "google", model: "gemini-2.5-flash" }],
        },
      ],
    });
    expect(flow.status).toBe("completed");
    expect(stepOf(flow, "a")).toMatchObject({
      status: "success",
      output: "the fallback's answer",
      provider: "google",
      model: "gemini-2.5-flash",
      retryCount: 2,
    });
    expect(vendors.openai.requests).toHaveLength(2);
    expect(vendors.google.requests).toHaveLength(1);
  });

  it("a 401 fails at once, without retry, with the vendor's message and no key", async () => {
    vendors.openai.respondWith(() => ({ status: 401, errorMessage: "Incorrect API key provided" }));
    const flow = await run({
      name: "401",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "openai",
          model: "gpt-4o",
          action: "generate",
          prompt: "{{ original }}",
          retryOnFailure: true,
          maxRetries: 3,
          fallbacks: [{ provider: "google", model: "gemini-2.5-flash" }],
        },
      ],
    });
    expect(flow.status).toBe("failed");
    const step = stepOf(flow, "a");
    expect(step.status).toBe("failed");
    expect(step.error?.message).toContain("Incorrect API key provided");
    expect(JSON.stringify(flow)).not.toContain(vendors.openai.apiKey);
    expect(vendors.openai.requests).toHaveLength(1);
    expect(vendors.google.requests).toHaveLength(0);
  });

  it("a call that outlives the step timeout fails as a timeout, and the server sees the connection closed", async () => {
    vendors.google.respondWith(() => ({ hang: true }));
    const flow = await run({
      name: "timeout",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "google",
          model: "gemini-2.5-pro",
          action: "generate",
          prompt: "{{ original }}",
          timeout: 1_000,
        },
      ],
    });
    expect(flow.status).toBe("failed");
    expect(stepOf(flow, "a").error?.code).toBe("timeout");
    await vendors.google.waitFor((requests) => requests[0]?.clientClosedEarly === true, 5_000);
  });

  it("cancel mid-stream aborts the streaming call: the server sees its connection closed within a second", async () => {
    vendors.anthropic.respondWith(() => ({
      text: Array.from({ length: 400 }, (_, i) => `word${i}`).join(" "),
      chunkDelayMs: 50,
    }));
    const flowId = await api.createFlow(threadId, {
      name: "cancel stream",
      type: "sequential",
      steps: [
        { id: "a", provider: "anthropic", model: "claude-sonnet-4-5", action: "generate", prompt: "{{ original }}" },
      ],
    });
    expect((await api.execute(flowId, { input: "long answer please" })).status).toBe(202);
    await vendors.anthropic.waitFor((requests) => requests.length === 1, 10_000);
    await new Promise((r) => setTimeout(r, 500)); // some chunks are out
    const cancelledAt = Date.now();
    expect((await api.request("POST", `/v1/flows/${flowId}/cancel`)).status).toBe(202);
    await vendors.anthropic.waitFor((requests) => requests[0]?.clientClosedEarly === true, 1_000);
    expect(Date.now() - cancelledAt).toBeLessThan(1_000);
    expect(vendors.anthropic.requests[0]?.stream).toBe(true);
    expect((await api.waitForStatus(flowId, ["cancelled"])).status).toBe("cancelled");
  });

  it("a flow that spends its budget mid-way ends failed budget_exceeded, earlier results kept, the rest cancelled", async () => {
    vendors.openai.respondWith(() => ({
      text: "expensive",
      usage: { promptTokens: 50_000, completionTokens: 10_000 },
    }));
    const flow = await run({
      name: "budget",
      type: "sequential",
      budget: { maxCostUsd: 0.2 },
      steps: ["a", "b", "c", "d"].map((id) => ({
        id,
        provider: "openai",
        model: "gpt-4o",
        action: "generate",
        prompt: "{{ previous }}",
      })),
    });
    // Each call costs 50k × $2.5/M + 10k × $10/M = $0.225: the first one spends the budget.
    expect(flow.status).toBe("failed");
    expect(flow.error).toMatchObject({ code: "budget_exceeded" });
    expect(stepOf(flow, "a")).toMatchObject({ status: "success", output: "expensive" });
    expect(["b", "c", "d"].map((id) => stepOf(flow, id).status)).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(vendors.openai.requests).toHaveLength(1);
  });

  it("holds a rate limit shared by two worker processes: calls per window stay under it", async () => {
    const arrivals: number[] = [];
    limited.respondWith(() => (arrivals.push(Date.now()), "ok"));
    const flowIds = await Promise.all(
      Array.from({ length: 5 }, async (_, i) =>
        api.createFlow(threadId, {
          name: `limited ${i}`,
          type: "parallel",
          steps: ["a", "b"].map((id) => ({
            id,
            provider: "limited",
            model: "local-model",
            action: "generate",
            prompt: "{{ original }}",
          })),
        }),
      ),
    );
    await Promise.all(flowIds.map((id) => api.execute(id, { input: "hi" })));
    for (const id of flowIds)
      expect((await api.waitForStatus(id, ["completed", "failed"], 60_000)).status).toBe("completed");
    expect(arrivals).toHaveLength(10);
    arrivals.sort((x, y) => x - y);
    // The limiter admits a call just before the SDK sends it; the request reaches the server
    // a few ms later (more on this loaded 2-core machine), so windows are checked with that
    // much slack. 10 calls at 4 per window need two full windows after the first.
    const SLACK_MS = 300;
    for (const start of arrivals)
      expect(arrivals.filter((t) => t >= start && t < start + RATE_WINDOW_MS - SLACK_MS).length).toBeLessThanOrEqual(
        RATE_LIMIT,
      );
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(2 * RATE_WINDOW_MS - SLACK_MS);
  }, 90_000);

  it("a step its worker continued with (no job of its own) waits for the rate limit too, in a job of its own", async () => {
    await new Promise((r) => setTimeout(r, RATE_WINDOW_MS)); // the previous test's window is over
    const arrivals: number[] = [];
    limited.respondWith(() => (arrivals.push(Date.now()), "ok"));
    const flowIds = await Promise.all(
      Array.from({ length: 2 }, async (_, i) =>
        api.createFlow(threadId, {
          name: `limited chain ${i}`,
          type: "sequential",
          steps: ["a", "b", "c", "d"].map((id) => ({
            id,
            provider: "limited",
            model: "local-model",
            action: "generate",
            prompt: "{{ original }}",
          })),
        }),
      ),
    );
    await Promise.all(flowIds.map((id) => api.execute(id, { input: "hi" })));
    for (const id of flowIds)
      expect((await api.waitForStatus(id, ["completed", "failed"], 60_000)).status).toBe("completed");
    expect(arrivals).toHaveLength(8);
    arrivals.sort((x, y) => x - y);
    const SLACK_MS = 300;
    for (const start of arrivals)
      expect(arrivals.filter((t) => t >= start && t < start + RATE_WINDOW_MS - SLACK_MS).length).toBeLessThanOrEqual(
        RATE_LIMIT,
      );
    // 8 calls at 4 per window: the second four waited for the next window.
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(RATE_WINDOW_MS - SLACK_MS);
  }, 90_000);

  describe("data-sharing policies reach every provider request", () => {
    const CANARY = "CANARY-7f3a-do-not-share";

    it("refuses at create a flow that would send one provider's output to a provider that forbids it", async () => {
      expect(
        (
          await api.request("PUT", "/v1/policies/anthropic", {
            allowConversationHistory: true,
            allowCrossProviderContext: false,
            allowAttachments: false,
          })
        ).status,
      ).toBe(200);
      try {
        const res = await api.request<{ error: { code: string; details: Record<string, unknown>[] } }>(
          "POST",
          "/v1/flows",
          {
            threadId,
            definition: {
              name: "forbidden",
              type: "sequential",
              steps: [
                { id: "a", provider: "openai", model: "gpt-4o", action: "generate", prompt: "{{ original }}" },
                {
                  id: "b",
                  provider: "anthropic",
                  model: "claude-sonnet-4-5",
                  action: "critique",
                  prompt: "{{ previous }}",
                },
              ],
            },
          },
        );
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe("policy_violation");
        expect(res.body.error.details).toEqual([
          expect.objectContaining({
            path: "definition.steps[1]",
            provider: "anthropic",
            setting: "allowCrossProviderContext",
          }),
        ]);
      } finally {
        await api.request("PUT", "/v1/policies/anthropic", {
          allowConversationHistory: true,
          allowCrossProviderContext: true,
          allowAttachments: true,
        });
      }
    });

    it("a canary in a step output never reaches a provider whose policy forbids it, when a fallback changed who answered upstream", async () => {
      // draft: google is down, its fallback openai answers with the canary. review: google may not see
      // another provider's output, so its primary is passed over at run time and its fallback answers.
      vendors.google.respondWith(() => ({ status: 503, errorMessage: "overloaded" }));
      vendors.openai.respondWith(() => `secret draft ${CANARY}`);
      expect(
        (
          await api.request("PUT", "/v1/policies/google", {
            allowConversationHistory: false,
            allowCrossProviderContext: false,
            allowAttachments: false,
          })
        ).status,
      ).toBe(200);
      try {
        const flow = await run({
          name: "canary via fallback",
          type: "sequential",
          steps: [
            {
              id: "draft",
              provider: "google",
              model: "gemini-2.5-flash",
              action: "generate",
              prompt: "{{ original }}",
              fallbacks: [{ provider: "openai", model: "gpt-4o" }],
            },
            {
              id: "review",
              provider: "google",
              model: "gemini-2.5-pro",
              action: "critique",
              prompt: "Review: {{ previous }}",
              fallbacks: [{ provider: "anthropic", model: "claude-sonnet-4-5" }],
            },
          ],
        });
        expect(flow.status).toBe("completed");
        expect(stepOf(flow, "draft")).toMatchObject({ provider: "openai", output: `secret draft ${CANARY}` });
        expect(stepOf(flow, "review")).toMatchObject({ status: "success", provider: "anthropic" });
        expect(vendors.anthropic.requests[0]?.prompt).toContain(CANARY);
        // google was called once (the draft's failed attempt) and never saw the canary.
        expect(vendors.google.requests).toHaveLength(1);
        expect(vendors.google.requests.some((r) => JSON.stringify(r.body).includes(CANARY))).toBe(false);
      } finally {
        await api.request("PUT", "/v1/policies/google", {
          allowConversationHistory: true,
          allowCrossProviderContext: true,
          allowAttachments: true,
        });
      }
    });

    it("thread history with a canary is left out for a provider that may not see history", async () => {
      const historyThread = await api.createThread("history");
      expect(
        (
          await api.request("POST", `/v1/threads/${historyThread}/messages`, {
            role: "user",
            content: `earlier: ${CANARY}`,
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await api.request("PUT", "/v1/policies/google", {
            allowConversationHistory: false,
            allowCrossProviderContext: true,
            allowAttachments: false,
          })
        ).status,
      ).toBe(200);
      try {
        const flowId = await api.createFlow(historyThread, {
          name: "history",
          type: "parallel",
          contextPolicy: { shareConversationHistory: true },
          steps: [
            { id: "g", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" },
            { id: "o", provider: "openai", model: "gpt-4o", action: "generate", prompt: "{{ original }}" },
          ],
        });
        expect((await api.execute(flowId, { input: "go" }, true)).status).toBe(200);
        expect(vendors.google.requests).toHaveLength(1);
        expect(JSON.stringify(vendors.google.requests[0]?.body)).not.toContain(CANARY);
        // The provider allowed history gets it.
        expect(JSON.stringify(vendors.openai.requests[0]?.body)).toContain(CANARY);
      } finally {
        await api.request("PUT", "/v1/policies/google", {
          allowConversationHistory: true,
          allowCrossProviderContext: true,
          allowAttachments: true,
        });
      }
    });
  });

  it("executes one step alone: its input is the request's, its result is returned", async () => {
    vendors.anthropic.respondWith((req) => `alone: ${req.messages.at(-1)?.content ?? ""}`);
    const flowId = await api.createFlow(threadId, {
      name: "single",
      type: "sequential",
      steps: [
        { id: "a", provider: "openai", model: "gpt-4o", action: "generate", prompt: "{{ original }}" },
        {
          id: "b",
          provider: "anthropic",
          model: "claude-haiku-4-5",
          action: "summarize",
          prompt: "Summarize: {{ previous }}",
        },
      ],
    });
    const res = await api.request<StepResultBody>("POST", `/v1/flows/${flowId}/steps/b/execute?wait=true`, {
      input: "just this text",
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      stepId: "b",
      status: "success",
      provider: "anthropic",
      output: "alone: Summarize: just this text",
    });
    expect(vendors.openai.requests).toHaveLength(0);
    const unknown = await api.request<{ error: { code: string; details: { path: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/steps/zzz/execute`,
      {},
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0]?.path).toBe("stepId");
  });
  // Last: every test above has run, with keys in each process's environment and in each request.
  it("no provider key reaches a log line, Redis (job data, events) or an API answer", async () => {
    const secrets = [vendors.openai.apiKey, vendors.anthropic.apiKey, vendors.google.apiKey];
    const logs = cluster.processes.map((p) => readFileSync(p.logFile, "utf8")).join("\n");
    expect(logs.length).toBeGreaterThan(0);
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "test-secrets",
    });
    const stored: string[] = [];
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${cluster.prefix}:*`, "COUNT", 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          if (type === "hash") stored.push(JSON.stringify(await redis.hgetall(key)));
          else if (type === "stream") stored.push(JSON.stringify(await redis.xrange(key, "-", "+")));
          else if (type === "string") stored.push((await redis.get(key)) ?? "");
        }
      } while (cursor !== "0");
    } finally {
      await redis.quit();
    }
    expect(stored.join("").length).toBeGreaterThan(0);
    const threadFlows = JSON.stringify((await api.request("GET", `/v1/threads/${threadId}/flows?limit=200`)).body);
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(stored.join("\n")).not.toContain(secret);
      expect(threadFlows).not.toContain(secret);
    }
  });
});
