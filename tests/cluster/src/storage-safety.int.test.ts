import { randomBytes } from "node:crypto";
import { storableText } from "@ensemble/core";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { findFlow, listFlowEvents, type FlowEventRow } from "@ensemble/db";
import {
  startFakeOpenAI,
  startFakeVendors,
  type FakeVendors,
  type FakeVendorServer,
} from "@ensemble/providers/testing";
import { createRedisConnection } from "@ensemble/queue";
import { ApiClient, type FlowBody } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type Tenant } from "./tenants.js";

// Text Postgres cannot hold (NUL, lone surrogates) from providers and from API bodies, and
// secrets an endpoint echoes back: through the real API, scheduler and worker processes.

const R = "\uFFFD";
/** A key no pattern would recognise: only redaction of the configured value catches it. */
const ECHO_KEY = `echo-endpoint-credential-${randomBytes(6).toString("hex")}`;
const BOB_OUTPUT = `bob-private-output-${randomBytes(6).toString("hex")}`;
const TERMINAL = ["completed", "failed", "cancelled", "timed_out"];

/** Provider outputs for the fuzz test. Built at load: building `binary` strings takes seconds once, which would stall the test's sockets. */
const unstorable = fc.constantFrom("\u0000", "\uD800", "\uDFFF", "\uDC00\uD800", "\u0000\uDBFF");
const providerOutput = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 300 }) },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.oneof(fc.string({ unit: "binary", maxLength: 12 }), unstorable), { maxLength: 30 })
      .map((parts) => parts.join("")),
  },
  { weight: 1, arbitrary: fc.constant("") },
  // Huge, but under the output caps: a long run of one word costs one streamed chunk.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 50_000, max: 200_000 }), unstorable)
      .map(([head, n, bad]) => `${head}${"w".repeat(n)}${bad}end`),
  },
);

describe("unstorable text and echoed secrets", () => {
  let vendors: FakeVendors;
  let echo: FakeVendorServer;
  let cluster: Cluster;
  let alice: ApiClient;
  let bob: Tenant;
  let bobApi: ApiClient;

  beforeAll(async () => {
    vendors = await startFakeVendors();
    echo = await startFakeOpenAI({ apiKey: ECHO_KEY });
    cluster = await Cluster.start({
      workers: 1,
      env: {
        ...vendors.env,
        ADMIN_TOKEN,
        ECHO_API_KEY: ECHO_KEY,
        OPENAI_COMPATIBLE_ENDPOINTS: JSON.stringify([{ name: "echo", baseUrl: echo.url, apiKeyEnv: "ECHO_API_KEY" }]),
      },
    });
    alice = new ApiClient(cluster.baseUrl);
    bob = await createTenant(cluster.baseUrl, "bob");
    bobApi = new ApiClient(cluster.baseUrl, bob.key);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await echo?.close();
    await vendors?.close();
  });

  const oneStep = (provider: string, model: string, prompt = "{{ original }}"): unknown => ({
    name: "one step",
    type: "sequential",
    steps: [{ id: "a", provider, model, action: "generate", prompt }],
  });

  const archivedEvents = async (flowId: string, timeoutMs = 15_000): Promise<FlowEventRow[]> => {
    const db = cluster.database?.handle.db;
    if (!db) throw new Error("no database");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await listFlowEvents(db, flowId);
      if (rows.some((r) => ["flow_complete", "flow_failed", "flow_cancelled"].includes(r.type))) return rows;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`events of flow ${flowId} not archived after ${timeoutMs} ms`);
  };

  /** Everything the cluster keeps in Redis under its prefix (job hashes with failedReason and stack traces, event streams). */
  const redisText = async (): Promise<string> => {
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "test-storage-safety",
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
    return stored.join("\n");
  };
  const logs = (): string => cluster.processes.map((p) => readFileSync(p.logFile, "utf8")).join("\n");

  it("a provider output with NUL and lone surrogates completes, stored with U+FFFD, and another tenant's flow archives in the same batch", async () => {
    vendors.openai.respondWith((request) =>
      request.prompt.includes("alice") ? "alpha\u0000omega \uD800 end" : BOB_OUTPUT,
    );
    const [aliceFlow, bobFlow] = await Promise.all([
      alice.createThread("alice").then((thread) => alice.createFlow(thread, oneStep("openai", "gpt-4o"))),
      bobApi.createThread("bob").then((thread) => bobApi.createFlow(thread, oneStep("openai", "gpt-4o"))),
    ]);
    // Started together, the two runs end within the same second: one archive batch.
    await Promise.all([alice.execute(aliceFlow, { input: "alice" }), bobApi.execute(bobFlow, { input: "bob" })]);
    expect((await alice.waitForStatus(aliceFlow, TERMINAL, 20_000)).status).toBe("completed");
    expect((await bobApi.waitForStatus(bobFlow, TERMINAL, 20_000)).status).toBe("completed");

    const flow = await alice.flow(aliceFlow);
    expect(flow.stepResults[0]?.output).toBe(`alpha${R}omega ${R} end`);
    expect(flow.result?.finalOutput).toBe(`alpha${R}omega ${R} end`);

    const [aliceEvents, bobEvents] = await Promise.all([archivedEvents(aliceFlow), archivedEvents(bobFlow)]);
    expect(JSON.stringify(aliceEvents.find((e) => e.type === "step_complete")?.data)).toContain(`alpha${R}omega`);
    expect(JSON.stringify(bobEvents)).toContain(BOB_OUTPUT);

    // Bob's output is his: it is in no log line and no job's failure in Redis.
    await new Promise((r) => setTimeout(r, 1_500)); // a few more archive runs
    expect(logs()).not.toContain(BOB_OUTPUT);
    const failedJobs = (await redisText()).split("\n").filter((text) => text.includes("failedReason"));
    for (const job of failedJobs) expect(job).not.toContain(BOB_OUTPUT);
  });

  it("NUL and lone surrogates in titles, messages, prompts, inputs and metadata are stored with U+FFFD or refused with a 400 naming the field, never a 500", async () => {
    const raw = (path: string, json: string) =>
      send(cluster.baseUrl, {
        method: "POST",
        path,
        key: bob.key,
        rawBody: json,
        headers: { "content-type": "application/json" },
      });
    const nul = "\\u0000";
    const lone = "\\ud800";

    const thread = await raw("/v1/threads", `{"title": "t${nul}itle ${lone}"}`);
    expect(thread.status).toBe(201);
    const threadId = thread.json.id as string;
    expect((await bobApi.request("GET", `/v1/threads/${threadId}`)).body).toMatchObject({ title: `t${R}itle ${R}` });

    const message = await raw(`/v1/threads/${threadId}/messages`, `{"role": "user", "content": "hi${nul} ${lone}"}`);
    expect(message.status).toBe(201);
    const history = await bobApi.request<{ items?: { content: string }[] } | { content: string }[]>(
      "GET",
      `/v1/threads/${threadId}/messages`,
    );
    expect(JSON.stringify(history.body)).toContain(`hi${R} ${R}`);

    const step = (prompt: string): string =>
      `{"id": "a", "provider": "sim", "model": "echo", "action": "generate", "prompt": "${prompt}"}`;
    const definition = (prompt: string): string =>
      `{"name": "n${nul}", "type": "sequential", "description": "d${lone}", "steps": [${step(prompt)}]}`;
    // A placeholder is a name: one with a NUL in it names nothing, and says where.
    const badPlaceholder = await raw(
      "/v1/flows",
      `{"threadId": "${threadId}", "definition": ${definition(`{{ metadata.k${nul}ey }}`)}}`,
    );
    expect(badPlaceholder.status).toBe(400);
    expect(badPlaceholder.json.error.details[0].path).toBe("definition.steps[0].prompt");

    const created = await raw(
      "/v1/flows",
      `{"threadId": "${threadId}", "definition": ${definition(`p${nul} {{ original }} {{ metadata.key }}`)}}`,
    );
    expect(created.status).toBe(201);
    const flowId = created.json.id as string;
    const executed = await raw(
      `/v1/flows/${flowId}/execute?wait=true`,
      `{"input": "in${nul}put ${lone}", "metadata": {"key": "v${nul}alue", "k${nul}ey": ["${lone}"]}}`,
    );
    expect(executed.status).toBe(200);
    expect(executed.json.status).toBe("completed");
    const flow = (await bobApi.flow(flowId)) as FlowBody & { name: string; description: string };
    expect(flow.stepResults[0]?.output).toContain(`p${R} in${R}put ${R} v${R}alue`);
    expect(flow).toMatchObject({ name: `n${R}`, description: `d${R}` });
    const stored = await findFlow(cluster.database!.handle.db, flowId);
    expect(stored).toMatchObject({ input: `in${R}put ${R}`, metadata: { key: `v${R}alue`, [`k${R}ey`]: [R] } });

    // An encoded NUL in a path is an invalid path, refused before any lookup.
    expect((await send(cluster.baseUrl, { method: "GET", path: "/v1/threads/a%00b", key: bob.key })).status).toBe(400);
    expect((await send(cluster.baseUrl, { method: "GET", path: "/v1/flows/a%00b", key: bob.key })).status).toBe(400);
  });

  it("an endpoint that echoes its key: the key is in neither the step error, the events nor the logs", async () => {
    echo.script(
      { status: 400, errorMessage: `invalid request for credential ${ECHO_KEY}` },
      { status: 400, errorMessage: `invalid request for credential ${ECHO_KEY}` },
    );
    const threadId = await alice.createThread("echo");
    const flowId = await alice.createFlow(threadId, oneStep("echo", "local-model"));
    const res = await alice.execute(flowId, { input: "hello" }, true);
    expect(res.body.status).toBe("failed");
    expect(echo.requests.length).toBeGreaterThan(0);

    const flow = await alice.flow(flowId);
    expect(flow.stepResults[0]?.error?.message).toContain("invalid request for credential [REDACTED]");
    const events = await archivedEvents(flowId);
    expect(JSON.stringify(events)).toContain("[REDACTED]");
    for (const where of [JSON.stringify(flow), JSON.stringify(events), await redisText(), logs()])
      expect(where).not.toContain(ECHO_KEY);
  });

  it("fuzz: arbitrary provider outputs (NUL, lone surrogates, huge, empty, any Unicode) through the real adapters: every run ends, stores the output as documented, archives, and reads back without a 5xx", async () => {
    const vendorsByStep = { o: vendors.openai, a: vendors.anthropic, g: vendors.google } as const;
    const threadId = await alice.createThread("fuzz");
    const flowId = await alice.createFlow(threadId, {
      name: "fuzz outputs",
      type: "parallel",
      steps: [
        { id: "o", provider: "openai", model: "gpt-4o", action: "generate", prompt: "{{ original }}" },
        { id: "a", provider: "anthropic", model: "claude-sonnet-4-5", action: "generate", prompt: "{{ original }}" },
        { id: "g", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" },
      ],
    });
    /** Each run's expected outputs by step, checked against the archive once all have run (it lags 2–3 s). */
    const runs: { run: number; expected: Record<string, string> }[] = [];
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.record({ o: providerOutput, a: providerOutput, g: providerOutput }), async (texts) => {
        for (const [stepId, vendor] of Object.entries(vendorsByStep))
          vendor.respondWith(() => ({ text: texts[stepId as keyof typeof texts], chunkDelayMs: 0 }));
        const res = await alice.execute(flowId, { input: "fuzz", timeout: { flowMs: 20_000 } }, true);
        expect(res.status).toBe(200);
        expect(res.body.status).toBe("completed");
        const flow = await alice.request<FlowBody>("GET", `/v1/flows/${flowId}`);
        expect(flow.status).toBe(200);
        expect((await alice.request("GET", `/v1/flows/${flowId}/status`)).status).toBe(200);
        const expected = Object.fromEntries(
          Object.keys(vendorsByStep).map((stepId) => [stepId, storableText(texts[stepId as keyof typeof texts])]),
        );
        expect(Object.fromEntries(flow.body.stepResults.map((s) => [s.stepId, s.output]))).toEqual(expected);
        runs.push({ run: res.body.run as number, expected });
      }),
      { numRuns: 20, endOnFailure: true },
    );
    const ran = Date.now() - started;

    // Every run's step_complete events are archived, their outputs as stored.
    const deadline = Date.now() + 15_000;
    let archived: FlowEventRow[] = [];
    const completes = () => archived.filter((e) => e.type === "step_complete");
    while (completes().length < runs.length * 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      archived = await listFlowEvents(cluster.database!.handle.db, flowId, 0, 100_000);
    }
    const outputsByRun = runs.map((_, i) =>
      Object.fromEntries(
        completes()
          .slice(i * 3, i * 3 + 3)
          .map((e) => [e.stepId, (e.data as { output: string }).output]),
      ),
    );
    expect(outputsByRun).toEqual(runs.map((r) => r.expected));
    expect(
      (await send(cluster.baseUrl, { method: "GET", path: `/v1/flows/${flowId}/events`, key: DEV_KEY, stream: true }))
        .status,
    ).toBe(200);
    expect(ran).toBeLessThan(60_000);
  }, 120_000);
});
