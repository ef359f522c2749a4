import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse, type Tenant } from "./tenants.js";

// Priorities, per-user fair sharing and maxInFlightSteps through real processes: API,
// scheduler and one worker with 4 slots, on Postgres and Redis. One user floods the steps
// queue with slow steps; what the others see is measured from their runs' step results.

jest.setTimeout(240_000);

const SLOTS = 4;
const SLOW = "slow?latencyMs=1500";
let cluster: Cluster;

beforeAll(async () => {
  cluster = await Cluster.start({
    workers: 1,
    env: { ADMIN_TOKEN, WORKER_CONCURRENCY: String(SLOTS), PRIORITY_AGING_MS: "1000", SWEEP_EVERY_MS: "500" },
  });
});
afterAll(async () => {
  await cluster?.stop();
});

const call = (key: string, method: string, path: string, body?: unknown): Promise<RawResponse> =>
  send(cluster.baseUrl, { method, path, key, ...(body !== undefined ? { body } : {}) });

interface StepView {
  stepId: string;
  status: string;
  retryCount: number;
  startedAt: string | null;
  completedAt: string | null;
}

async function parallelFlow(tenant: Tenant, steps: number, model: string): Promise<string> {
  const thread = await call(tenant.key, "POST", "/v1/threads", { title: "fair" });
  const flow = await call(tenant.key, "POST", "/v1/flows", {
    threadId: thread.json.id,
    definition: {
      name: "fair",
      type: "parallel",
      steps: Array.from({ length: steps }, (_, i) => ({
        id: `s${i}`,
        provider: "sim",
        model,
        action: "generate",
        prompt: "{{ original }}",
      })),
    },
  });
  if (flow.status !== 201) throw new Error(`create flow: ${flow.status} ${flow.text}`);
  return flow.json.id as string;
}

/** The flooding user: `flows` runs of 8 slow parallel steps each, queued before anyone else's. */
async function flood(tenant: Tenant, flows: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < flows; i += 1) {
    const id = await parallelFlow(tenant, 8, SLOW);
    const executed = await call(tenant.key, "POST", `/v1/flows/${id}/execute`, { input: "flood" });
    if (executed.status !== 202) throw new Error(`execute: ${executed.status} ${executed.text}`);
    ids.push(id);
  }
  return ids;
}

async function stepsOf(
  tenant: Tenant,
  flowId: string,
): Promise<{ status: string; priority: string; stepResults: StepView[] }> {
  return (await call(tenant.key, "GET", `/v1/flows/${flowId}`)).json;
}

async function completedSteps(tenant: Tenant, flowIds: readonly string[]): Promise<number> {
  let done = 0;
  for (const id of flowIds) done += (await stepsOf(tenant, id)).stepResults.filter((s) => s.completedAt).length;
  return done;
}

async function cancelAll(tenant: Tenant, flowIds: readonly string[]): Promise<void> {
  await Promise.all(flowIds.map((id) => call(tenant.key, "POST", `/v1/flows/${id}/cancel`)));
}

async function waitSettled(tenant: Tenant, flowId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const flow = await stepsOf(tenant, flowId);
    if (["completed", "failed", "cancelled", "timed_out"].includes(flow.status) || Date.now() > deadline) return flow;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("fair sharing", () => {
  it("a newcomer's step starts before a flooding user's backlog drains", async () => {
    const flooder = await createTenant(cluster.baseUrl, "flooder");
    const newcomer = await createTenant(cluster.baseUrl, "newcomer");
    const backlog = await flood(flooder, 6); // 48 steps of 1.5 s on 4 slots: ~18 s to drain
    const flowId = await parallelFlow(newcomer, 1, "echo");
    const executedAt = Date.now();
    const done = await call(newcomer.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "me too" });
    expect(done.json.status).toBe("completed");
    const [step] = (await stepsOf(newcomer, flowId)).stepResults;
    // At most one round of the flooder's slow steps ahead of it (FIFO: the whole backlog).
    expect(new Date(step?.startedAt ?? 0).getTime() - executedAt).toBeLessThan(5_000);
    expect(await completedSteps(flooder, backlog)).toBeLessThan(24);
    await cancelAll(flooder, backlog);
  });

  it("a low-priority run ages: it starts while the normal backlog is still there", async () => {
    const flooder = await createTenant(cluster.baseUrl, "flooder-2");
    const patient = await createTenant(cluster.baseUrl, "patient");
    const backlog = await flood(flooder, 6);
    const flowId = await parallelFlow(patient, 1, "echo");
    const executed = await call(patient.key, "POST", `/v1/flows/${flowId}/execute`, {
      input: "later",
      priority: "low",
    });
    expect(executed.status).toBe(202);
    const flow = await waitSettled(patient, flowId);
    expect(flow).toMatchObject({ status: "completed", priority: "low" });
    // Below every normal step until it aged (PRIORITY_AGING_MS=1000), then first among them.
    expect(await completedSteps(flooder, backlog)).toBeLessThan(24);
    await cancelAll(flooder, backlog);
  });

  it("execute refuses a priority it does not know, naming the field", async () => {
    const tenant = await createTenant(cluster.baseUrl, "bad-priority");
    const flowId = await parallelFlow(tenant, 1, "echo");
    const bad = await call(tenant.key, "POST", `/v1/flows/${flowId}/execute`, { input: "x", priority: "urgent" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("validation_error");
    expect(bad.json.error.details[0].path).toBe("priority");
    const badRerun = await call(tenant.key, "POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "s0",
      priority: 1,
    });
    expect(badRerun.status).toBe(400);
    expect(badRerun.json.error.details[0].path).toBe("priority");
  });

  it("a rerun keeps the priority of the run it replaces unless it names one; a schedule keeps its own", async () => {
    const tenant = await createTenant(cluster.baseUrl, "priorities");
    const flowId = await parallelFlow(tenant, 1, "echo");
    const first = await call(tenant.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, {
      input: "x",
      priority: "high",
    });
    expect(first.json.status).toBe("completed");
    expect((await stepsOf(tenant, flowId)).priority).toBe("high");
    const rerun = await call(tenant.key, "POST", `/v1/flows/${flowId}/runs/1/rerun`, { fromStep: "s0" });
    expect(rerun.status).toBe(202);
    expect((await waitSettled(tenant, flowId)).priority).toBe("high");
    await call(tenant.key, "POST", `/v1/flows/${flowId}/runs/2/rerun`, { fromStep: "s0", priority: "low" });
    expect((await waitSettled(tenant, flowId)).priority).toBe("low");

    const schedule = { cron: "0 0 1 1 *", timezone: "UTC", input: "yearly" };
    const created = await call(tenant.key, "POST", `/v1/flows/${flowId}/schedules`, { ...schedule, priority: "low" });
    expect(created.status).toBe(201);
    expect(created.json.priority).toBe("low");
    const bad = await call(tenant.key, "POST", `/v1/flows/${flowId}/schedules`, { ...schedule, priority: "later" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("priority");
  });
});

describe("maxInFlightSteps", () => {
  it("caps a user's steps running at once; every step still runs exactly once", async () => {
    const tenant = await createTenant(cluster.baseUrl, "capped");
    const limits = await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { maxInFlightSteps: 2 });
    expect(limits.json).toMatchObject({ maxInFlightSteps: 2 });
    const flowId = await parallelFlow(tenant, 6, "slow?latencyMs=800");
    const done = await call(tenant.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "capped" });
    expect(done.json.status).toBe("completed");
    const steps = (await stepsOf(tenant, flowId)).stepResults;
    expect(steps.map((s) => [s.status, s.retryCount])).toEqual(Array.from({ length: 6 }, () => ["success", 0]));
    // The most steps running at any instant, from their start and end times: 2 (4 worker slots were free).
    const edges = steps.flatMap((s) => [
      { at: new Date(s.startedAt ?? 0).getTime(), d: 1 },
      { at: new Date(s.completedAt ?? 0).getTime(), d: -1 },
    ]);
    edges.sort((x, y) => x.at - y.at || x.d - y.d);
    let running = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (running += e.d));
    expect(most).toBe(2);
    // Billed once each: a step put back for the cap made no call.
    const usage = await call(tenant.key, "GET", "/v1/usage");
    expect(usage.json.total.calls).toBe(6);
  });
});
