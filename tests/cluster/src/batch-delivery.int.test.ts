import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";
import { findStepBatch, listLedger, listRunSteps } from "@ensemble/db";
import { ApiClient, type FlowBody } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

/**
 * Issue 15, batch delivery: the API, the scheduler and two workers as separate processes;
 * batch steps go to the fake vendors' batch endpoints (OpenAI files + batches, Anthropic
 * message batches) through the official SDKs.
 */
describe("batch delivery through the cluster", () => {
  let vendors: FakeVendors;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    vendors = await startFakeVendors();
    cluster = await Cluster.start({
      workers: 2,
      env: {
        ...vendors.env,
        STEP_LEASE_MS: "3000",
        SWEEP_EVERY_MS: "500",
        BATCH_MAX_AGE_MS: "300",
        BATCH_POLL_MS: "300",
      },
    });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread("batches");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await vendors?.close();
  });

  beforeEach(() => {
    vendors.openai.reset();
    vendors.anthropic.reset();
  });

  const db = () => {
    const database = cluster.database;
    if (!database) throw new Error("the cluster has no database");
    return database.handle.db;
  };
  /** The flow's ledger rows, by step, in step order. */
  const ledgerOf = async (flowId: string) => {
    const steps = await listRunSteps(db(), flowId, 1);
    const ledger = await listLedger(db(), flowId);
    return steps.flatMap((step) =>
      ledger.filter((row) => row.stepResultId === step.id).map((row) => ({ stepId: step.stepId, cost: row.cost })),
    );
  };
  const stepStatus = async (flowId: string, stepId: string): Promise<string | undefined> => {
    const flow = await api.flow(flowId);
    return flow.stepResults.find((s) => s.stepId === stepId)?.status;
  };
  const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const chatCalls = (server: FakeVendors["openai"]) =>
    server.requests.filter((r) => r.path.endsWith("/chat/completions") || r.path.endsWith("/messages")).length;

  const batchFlow = (step: Record<string, unknown> = {}) => ({
    name: "batch then sync",
    type: "sequential",
    steps: [
      {
        id: "draft",
        provider: "openai",
        model: "gpt-4o",
        action: "generate",
        prompt: "{{ original }}",
        delivery: "batch",
        ...step,
      },
      { id: "polish", provider: "openai", model: "gpt-4o", action: "refine", prompt: "Polish: {{ previous }}" },
    ],
  });

  it("refuses batch delivery where it cannot be had, naming the field", async () => {
    const noBatchApi = await api.request("POST", "/v1/flows", {
      threadId,
      definition: { ...batchFlow({ provider: "google", model: "gemini-2.5-flash" }) },
    });
    expect(noBatchApi.status).toBe(400);
    expect(JSON.stringify(noBatchApi.body)).toContain("steps[0].delivery");
    const badDeadline = await api.request("POST", "/v1/flows", {
      threadId,
      definition: batchFlow({ batchDeadline: "six hours" }),
    });
    expect(badDeadline.status).toBe(400);
    expect(JSON.stringify(badDeadline.body)).toContain("steps[0].batchDeadline");
  });

  it("runs a batch step through the vendor's batch, survives kill -9 of the workers and the scheduler mid-batch, and bills the answer once at the batch price", async () => {
    // gpt-4o: $2.50 in, $10 out per million; in a batch $1.25 and $5.
    vendors.openai.respondWith(() => ({ text: "DRAFT", usage: { promptTokens: 1_000, completionTokens: 500 } }));
    vendors.openai.configureBatches({ completionDelayMs: 6_000 });
    const flowId = await api.createFlow(threadId, batchFlow({ batchDeadline: "PT1H" }));
    expect((await api.execute(flowId, { input: "Explain batching" })).status).toBe(202);

    await waitUntil("the batch at the vendor", () => vendors.openai.batches.length === 1);
    await waitUntil("the batch recorded as submitted", async () => {
      const batchId = (await listRunSteps(db(), flowId, 1)).find((s) => s.stepId === "draft")?.batchId;
      return batchId ? (await findStepBatch(db(), batchId))?.state === "submitted" : false;
    });
    expect(await stepStatus(flowId, "draft")).toBe("batched");
    expect((await api.status(flowId)).status).toBe("running");

    const running = cluster.processes.filter(
      (p) =>
        (p.role === "worker" || p.role === "scheduler") && p.child.exitCode === null && p.child.signalCode === null,
    );
    await Promise.all(running.map((p) => cluster.kill9(p)));
    cluster.spawn("scheduler", `scheduler-restarted-${Date.now()}`);
    cluster.spawn("worker", `worker-restarted-${Date.now()}`);
    await cluster.waitReady();

    await api.waitForStatus(flowId, ["completed"], 60_000);
    const flow: FlowBody = await api.flow(flowId);
    expect(flow.stepResults.find((s) => s.stepId === "draft")).toMatchObject({ status: "success", output: "DRAFT" });
    // One batch, one item; the draft was never called synchronously (only polish was).
    expect(vendors.openai.batches).toHaveLength(1);
    expect(vendors.openai.batches[0]?.items.map((i) => i.customId)).toHaveLength(1);
    expect(chatCalls(vendors.openai)).toBe(1);
    // One ledger row per step: the draft at the batch price (1,000 × 1.25 + 500 × 5 = 0.00375), polish at the standard one.
    expect(await ledgerOf(flowId)).toEqual([
      { stepId: "draft", cost: 0.00375 },
      { stepId: "polish", cost: 0.0075 },
    ]);
    const events = await api.eventHistory(flowId);
    const batched = events.filter((e) => e.type === "step_batched");
    expect(batched).toHaveLength(1);
    expect(batched[0]).toMatchObject({ stepId: "draft", data: { provider: "openai", model: "gpt-4o", attempt: 0 } });
    expect(events.filter((e) => e.type === "step_complete" && e.stepId === "draft")).toHaveLength(1);
  }, 120_000);

  it("calls a batched step at once when its deadline comes near, and cancels the batch no step waits for", async () => {
    vendors.openai.respondWith(() => ({ text: "NOW", usage: { promptTokens: 1_000, completionTokens: 500 } }));
    vendors.openai.configureBatches({ completionDelayMs: 600_000 });
    // Deadline 3 s, timeout 1 s: called at once 2 s after it was batched.
    const flowId = await api.createFlow(threadId, batchFlow({ batchDeadline: 3_000, timeout: 1_000 }));
    expect((await api.execute(flowId, { input: "hurry" })).status).toBe(202);
    await api.waitForStatus(flowId, ["completed"], 60_000);
    const flow = await api.flow(flowId);
    expect(flow.stepResults.find((s) => s.stepId === "draft")).toMatchObject({ status: "success", output: "NOW" });
    expect(chatCalls(vendors.openai)).toBe(2);
    // Billed once, at the standard price.
    expect(await ledgerOf(flowId)).toEqual([
      { stepId: "draft", cost: 0.0075 },
      { stepId: "polish", cost: 0.0075 },
    ]);
    if (vendors.openai.batches.length > 0)
      await waitUntil("the batch cancelled", () => vendors.openai.batches[0]?.cancelledAt !== undefined);
  }, 90_000);

  it("falls back to a synchronous call when the batch expires", async () => {
    vendors.openai.respondWith(() => ({ text: "SYNC", usage: { promptTokens: 10, completionTokens: 5 } }));
    vendors.openai.configureBatches({ completionDelayMs: 200, outcome: "expired" });
    const flowId = await api.createFlow(threadId, batchFlow());
    expect((await api.execute(flowId, { input: "expire" })).status).toBe(202);
    await api.waitForStatus(flowId, ["completed"], 60_000);
    expect(vendors.openai.batches).toHaveLength(1);
    expect((await api.flow(flowId)).stepResults.find((s) => s.stepId === "draft")).toMatchObject({
      status: "success",
      output: "SYNC",
    });
    expect((await ledgerOf(flowId)).map((l) => l.stepId)).toEqual(["draft", "polish"]);
  }, 90_000);

  it("cancelling the run cancels its batch and bills nothing for it", async () => {
    vendors.openai.configureBatches({ completionDelayMs: 600_000 });
    const flowId = await api.createFlow(threadId, batchFlow());
    expect((await api.execute(flowId, { input: "never mind" })).status).toBe(202);
    await waitUntil("the batch at the vendor", () => vendors.openai.batches.length === 1);
    expect((await api.request("POST", `/v1/flows/${flowId}/cancel`)).status).toBeLessThan(300);
    await api.waitForStatus(flowId, ["cancelled"], 30_000);
    expect(await stepStatus(flowId, "draft")).toBe("cancelled");
    await waitUntil("the batch cancelled", () => vendors.openai.batches[0]?.cancelledAt !== undefined);
    expect(await ledgerOf(flowId)).toEqual([]);
    expect(chatCalls(vendors.openai)).toBe(0);
  }, 60_000);

  it("an execute's delivery batches the run's model steps that set none, and names its own fields when it cannot", async () => {
    vendors.openai.respondWith(() => ({ text: "BOTH", usage: { promptTokens: 1_000, completionTokens: 500 } }));
    const definition = batchFlow({ delivery: undefined });
    const flowId = await api.createFlow(threadId, definition);
    const refused = await api.execute(flowId, { input: "x", batchDeadline: "PT1H" });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain("batchDeadline");
    const badDeadline = await api.execute(flowId, { input: "x", delivery: "batch", batchDeadline: -5 });
    expect(badDeadline.status).toBe(400);
    expect(JSON.stringify(badDeadline.body)).toContain("batchDeadline");
    expect((await api.execute(flowId, { input: "both", delivery: "batch", batchDeadline: "PT1H" })).status).toBe(202);
    await api.waitForStatus(flowId, ["completed"], 60_000);
    expect(vendors.openai.batches).toHaveLength(2);
    expect(chatCalls(vendors.openai)).toBe(0);
    expect(await ledgerOf(flowId)).toEqual([
      { stepId: "draft", cost: 0.00375 },
      { stepId: "polish", cost: 0.00375 },
    ]);

    const googleFlow = await api.createFlow(threadId, {
      name: "no batch api",
      type: "sequential",
      steps: [{ id: "g", provider: "google", model: "gemini-2.5-flash", action: "generate", prompt: "{{ original }}" }],
    });
    const noBatchApi = await api.execute(googleFlow, { input: "x", delivery: "batch" });
    expect(noBatchApi.status).toBe(400);
    expect(JSON.stringify(noBatchApi.body)).toContain('"delivery"');
    expect(JSON.stringify(noBatchApi.body)).toContain("step g");
  }, 90_000);

  it("runs an Anthropic batch step end to end at the batch price", async () => {
    // claude-sonnet-4-5: $3 in, $15 out per million; in a batch $1.50 and $7.50.
    vendors.anthropic.respondWith(() => ({ text: "CLAUDE", usage: { promptTokens: 1_000, completionTokens: 100 } }));
    const flowId = await api.createFlow(threadId, {
      name: "anthropic batch",
      type: "sequential",
      steps: [
        {
          id: "draft",
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          action: "generate",
          prompt: "{{ original }}",
          delivery: "batch",
          batchDeadline: "PT6H",
        },
      ],
    });
    expect((await api.execute(flowId, { input: "hello" })).status).toBe(202);
    await api.waitForStatus(flowId, ["completed"], 60_000);
    expect((await api.flow(flowId)).stepResults[0]).toMatchObject({ status: "success", output: "CLAUDE" });
    expect(vendors.anthropic.batches).toHaveLength(1);
    expect(chatCalls(vendors.anthropic)).toBe(0);
    expect(await ledgerOf(flowId)).toEqual([{ stepId: "draft", cost: 0.00225 }]);
  }, 60_000);
});
