import { randomUUID } from "node:crypto";
import { listRunSteps } from "@ensemble/db";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse, type Tenant } from "./tenants.js";

// Idempotency-Key on POST /v1/flows/:id/execute, against the real processes: a repeat gets
// the first answer and starts nothing (the flow's run number and its stored steps say so).

const QUICK_FLOW = { name: "quick", type: "sequential", steps: [simStep("a"), simStep("b")] };
const SLOW_FLOW = { name: "slow", type: "sequential", steps: [simStep("a", { model: "slow?latencyMs=1500" })] };

describe("Idempotency-Key", () => {
  let cluster: Cluster;
  let owner: Tenant;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN } });
    owner = await createTenant(cluster.baseUrl, "owner");
    api = new ApiClient(cluster.baseUrl, owner.key);
    threadId = await api.createThread("idempotency");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const execute = (
    flowId: string,
    key: string,
    body: unknown,
    options: { wait?: boolean; as?: Tenant } = {},
  ): Promise<RawResponse> =>
    send(cluster.baseUrl, {
      method: "POST",
      path: `/v1/flows/${flowId}/execute${options.wait ? "?wait=true" : ""}`,
      key: (options.as ?? owner).key,
      headers: { "idempotency-key": key },
      body,
    });
  const runOf = async (flowId: string): Promise<number> =>
    (await api.request<{ run: number }>("GET", `/v1/flows/${flowId}`)).body.run;

  it("same key and body: the first answer again, and no second run", async () => {
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    const key = randomUUID();
    const first = await execute(flowId, key, { input: "hello", metadata: { a: 1, b: 2 } });
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await api.waitForStatus(flowId, ["completed"]);

    // The flow has ended, so without the key this would start run 2.
    const again = await execute(flowId, key, { metadata: { b: 2, a: 1 }, input: "hello" });
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await runOf(flowId)).toBe(1);
    expect((await api.status(flowId)).status).toBe("completed");
    const steps = await listRunSteps(cluster.database!.handle.db, flowId, 2);
    expect(steps).toEqual([]);
  });

  it("a rerun repeated with its key: the first answer again, and one new run", async () => {
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    expect((await api.execute(flowId, { input: "hello" }, true)).status).toBe(200);
    const key = randomUUID();
    const rerun = () =>
      send(cluster.baseUrl, {
        method: "POST",
        path: `/v1/flows/${flowId}/runs/1/rerun`,
        key: owner.key,
        headers: { "idempotency-key": key },
        body: { fromStep: "b" },
      });
    const first = await rerun();
    expect(first.status).toBe(202);
    await api.waitForStatus(flowId, ["completed"]);
    const again = await rerun();
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await runOf(flowId)).toBe(2);
  });

  it("same key, another body or another flow: 409 naming the header, nothing started", async () => {
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    const otherFlowId = await api.createFlow(threadId, QUICK_FLOW);
    const key = randomUUID();
    expect((await execute(flowId, key, { input: "one" })).status).toBe(202);
    await api.waitForStatus(flowId, ["completed"]);

    for (const [target, body] of [
      [flowId, { input: "two" }],
      [otherFlowId, { input: "one" }],
    ] as const) {
      const reused = await execute(target, key, body);
      expect(reused.status).toBe(409);
      expect(reused.json.error).toEqual({
        code: "conflict",
        message: expect.stringContaining("Idempotency-Key"),
        details: [expect.objectContaining({ path: "Idempotency-Key", reason: "key_reused" })],
      });
    }
    expect(await runOf(flowId)).toBe(1);
    expect(await runOf(otherFlowId)).toBe(0);
  });

  it("concurrent requests with one key: one run, every caller gets its answer", async () => {
    const flowId = await api.createFlow(threadId, SLOW_FLOW);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => execute(flowId, key, { input: "race" })));
    // Without the key, five of these would be 409 "flow is queued".
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(answers.map((a) => JSON.stringify(a.json))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(5);
    await api.waitForStatus(flowId, ["completed"]);
    expect(await runOf(flowId)).toBe(1);
  });

  it("?wait=true: the final result is what a repeat gets", async () => {
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    const key = randomUUID();
    const first = await execute(flowId, key, { input: "wait for me" }, { wait: true });
    expect([first.status, first.json.status]).toEqual([200, "completed"]);
    const again = await execute(flowId, key, { input: "wait for me" }, { wait: true });
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(again.json).toEqual(first.json);
    expect(await runOf(flowId)).toBe(1);
  });

  it("a refused request keeps nothing: the same key works once the flow may run", async () => {
    const flowId = await api.createFlow(threadId, SLOW_FLOW);
    expect((await api.execute(flowId, { input: "first" })).status).toBe(202);
    const key = randomUUID();
    const whileRunning = await execute(flowId, key, { input: "second" });
    expect([whileRunning.status, whileRunning.json.error.code]).toEqual([409, "conflict"]);
    expect(whileRunning.json.error.details).toEqual([
      expect.objectContaining({ flowId, status: expect.stringMatching(/queued|running/) }),
    ]);
    await api.waitForStatus(flowId, ["completed"]);
    const retried = await execute(flowId, key, { input: "second" });
    expect([retried.status, retried.headers.get("idempotent-replayed")]).toEqual([202, null]);
    expect(await runOf(flowId)).toBe(2);
    await api.waitForStatus(flowId, ["completed"]);
  });

  it("single-step execute: a repeat gets the step's result again; the key is scoped to that route", async () => {
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    const key = randomUUID();
    const step = (body: unknown): Promise<RawResponse> =>
      send(cluster.baseUrl, {
        method: "POST",
        path: `/v1/flows/${flowId}/steps/b/execute?wait=true`,
        key: owner.key,
        headers: { "idempotency-key": key },
        body,
      });
    const first = await step({ input: "only b" });
    expect([first.status, first.json.stepId, first.json.status]).toEqual([200, "b", "success"]);
    const again = await step({ input: "only b" });
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(again.json).toEqual(first.json);
    expect(await runOf(flowId)).toBe(1);
    // The same key on the whole-flow route is another request of another route: it runs.
    const whole = await execute(flowId, key, { input: "only b" });
    expect([whole.status, whole.headers.get("idempotent-replayed"), whole.json.run]).toEqual([202, null, 2]);
    await api.waitForStatus(flowId, ["completed"]);
  });

  it("keys are per user: another user's identical key is their own request", async () => {
    const writer = await createTenant(cluster.baseUrl, "writer");
    const member = await api.request("PUT", `/v1/threads/${threadId}/members/${writer.userId}`, {
      permissions: ["read", "write"],
    });
    expect(member.status).toBe(200);
    const flowId = await api.createFlow(threadId, QUICK_FLOW);
    const key = randomUUID();
    const mine = await execute(flowId, key, { input: "same" });
    expect(mine.status).toBe(202);
    await api.waitForStatus(flowId, ["completed"]);
    const theirs = await execute(flowId, key, { input: "same" }, { as: writer });
    expect([theirs.status, theirs.headers.get("idempotent-replayed"), theirs.json.run]).toEqual([202, null, 2]);
    await api.waitForStatus(flowId, ["completed"]);
  });
});
