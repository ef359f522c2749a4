import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnsembleClient, isEnsembleApiError } from "@ensemble/sdk";
import { Cluster, deleteRedisKeys } from "./cluster-harness.js";
import type { FlowBody } from "./api-client.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse, type Tenant } from "./tenants.js";

// Spend caps, usage and schedules through real processes: API, scheduler and two workers on
// Postgres and Redis. The sim provider is priced at $1 per token, so every call costs dollars.

jest.setTimeout(180_000);

let cluster: Cluster;
const priceDir = mkdtempSync(join(tmpdir(), "ensemble-prices-"));
const priceFile = join(priceDir, "prices.json");
writeFileSync(priceFile, JSON.stringify({ sim: { "*": { inputPerMillion: 1_000_000, outputPerMillion: 1_000_000 } } }));

beforeAll(async () => {
  cluster = await Cluster.start({ env: { ADMIN_TOKEN, PRICE_TABLE_FILE: priceFile } });
});
afterAll(async () => {
  await cluster?.stop();
});

const call = (key: string, method: string, path: string, body?: unknown): Promise<RawResponse> =>
  send(cluster.baseUrl, { method, path, key, ...(body !== undefined ? { body } : {}) });

async function flowOf(tenant: Tenant, steps: Record<string, unknown>[]): Promise<string> {
  const thread = await call(tenant.key, "POST", "/v1/threads", { title: "economics" });
  const flow = await call(tenant.key, "POST", "/v1/flows", {
    threadId: thread.json.id,
    definition: { name: "economics", type: "sequential", steps },
  });
  if (flow.status !== 201) throw new Error(`create flow: ${flow.status} ${flow.text}`);
  return flow.json.id as string;
}

const step = (id: string, model = "echo") => ({
  id,
  provider: "sim",
  model,
  action: "generate" as const,
  prompt: `${id}: {{ previous }}`,
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const settled = (body: { status?: string }) =>
  ["completed", "failed", "cancelled", "timed_out"].includes(body.status ?? "");

describe("spend caps", () => {
  it("a user reaching the daily cap has their running run stopped at its next commit and further executes refused 402", async () => {
    const tenant = await createTenant(cluster.baseUrl, "capped");
    const limits = await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { dailyUsd: 5 });
    expect(limits.status).toBe(200);
    expect(limits.json).toMatchObject({ userId: tenant.userId, dailyUsd: 5, monthlyUsd: null, maxInFlightSteps: null });

    const flowId = await flowOf(
      tenant,
      ["a", "b", "c", "d", "e"].map((id) => step(id, "slow?latencyMs=200")),
    );
    expect((await call(tenant.key, "POST", `/v1/flows/${flowId}/execute`, { input: "hello there" })).status).toBe(202);
    const flow = await until<FlowBody>(
      async () => (await call(tenant.key, "GET", `/v1/flows/${flowId}`)).json,
      settled,
    );
    // Each call bills more than $5: the first commit reaches the cap and the run stops as its own budget would stop it.
    expect(flow.status).toBe("failed");
    expect(flow.error).toMatchObject({ code: "budget_exceeded" });
    expect(flow.error?.message).toContain("dailyUsd");
    const statuses = flow.stepResults.map((s) => `${s.stepId}:${s.status}`);
    expect(statuses).toContain("a:success");
    expect(statuses.filter((s) => s.endsWith(":success"))).toHaveLength(1);

    const refused = await call(tenant.key, "POST", `/v1/flows/${flowId}/execute`, { input: "again" });
    expect(refused.status).toBe(402);
    expect(refused.json.error.code).toBe("budget_exceeded");
    expect(refused.json.error.message).toMatch(/daily spend cap of \$5 \(dailyUsd\).*resets at/);
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    expect(refused.json.error.details[0]).toMatchObject({
      period: "daily",
      capUsd: 5,
      resetsAt: tomorrow.toISOString(),
    });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);

    const read = await call(ADMIN_TOKEN, "GET", `/v1/admin/users/${tenant.userId}/limits`);
    expect(read.json.spent.daily.usd).toBeGreaterThanOrEqual(5);
    expect(read.json.spent.daily.resetsAt).toBe(tomorrow.toISOString());

    // Raising the cap lets the user execute again at once.
    await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { dailyUsd: null });
    expect((await call(tenant.key, "POST", `/v1/flows/${flowId}/execute`, { input: "again" })).status).toBe(202);
  });

  it("limits are admin-only and validated, naming the field", async () => {
    const tenant = await createTenant(cluster.baseUrl, "limits");
    expect((await call(tenant.key, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { dailyUsd: 1 })).status).toBe(
      401,
    );
    const bad = await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { monthlyUsd: -1 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("monthlyUsd");
    expect((await call(ADMIN_TOKEN, "GET", "/v1/admin/users/nobody-here/limits")).status).toBe(404);
  });
});

describe("usage", () => {
  it("gives the caller their spend and tokens, grouped by model, flow and day; others' spend is not theirs", async () => {
    const tenant = await createTenant(cluster.baseUrl, "usage");
    const other = await createTenant(cluster.baseUrl, "usage-other");
    const flowId = await flowOf(tenant, [step("a"), step("b", "slow?latencyMs=10")]);
    const done = await call(tenant.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "count me" });
    expect(done.json.status).toBe("completed");
    const otherFlow = await flowOf(other, [step("x")]);
    await call(other.key, "POST", `/v1/flows/${otherFlow}/execute?wait=true`, { input: "not yours" });

    const byModel = await call(tenant.key, "GET", "/v1/usage?groupBy=model");
    expect(byModel.status).toBe(200);
    expect(byModel.json.total.calls).toBe(2);
    expect(byModel.json.total.costUsd).toBeCloseTo(done.json.totalCost, 6);
    expect(byModel.json.total.promptTokens).toBeGreaterThan(0);
    expect(byModel.json.groups.map((g: { key: string }) => g.key)).toEqual(["sim/echo", "sim/slow?latencyMs=10"]);

    const byFlow = await call(tenant.key, "GET", "/v1/usage?groupBy=flow");
    expect(byFlow.json.groups).toEqual([expect.objectContaining({ key: flowId, calls: 2 })]);
    const byDay = await call(tenant.key, "GET", "/v1/usage?groupBy=day");
    expect(byDay.json.groups).toEqual([expect.objectContaining({ key: new Date().toISOString().slice(0, 10) })]);
    const byProvider = await call(tenant.key, "GET", "/v1/usage?groupBy=provider");
    expect(byProvider.json.groups).toEqual([expect.objectContaining({ key: "sim", calls: 2 })]);

    const future = await call(tenant.key, "GET", "/v1/usage?from=2999-01-01T00:00:00Z&to=2999-02-01T00:00:00Z");
    expect(future.json.total).toMatchObject({ costUsd: 0, calls: 0 });
  });

  it("answers 400 naming the bad parameter", async () => {
    const tenant = await createTenant(cluster.baseUrl, "usage-bad");
    for (const [query, field] of [
      ["groupBy=week", "groupBy"],
      ["from=yesterday", "from"],
      ["from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"],
    ] as const) {
      const res = await call(tenant.key, "GET", `/v1/usage?${query}`);
      expect(res.status).toBe(400);
      expect(res.json.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
  });
});

describe("schedules", () => {
  type Firing = { fireAt: string; outcome: string; run: number | null; reason: string | null };
  const firingsOf = async (tenant: Tenant, flowId: string): Promise<Firing[]> => {
    const list = await call(tenant.key, "GET", `/v1/flows/${flowId}/schedules`);
    return (list.json.items[0]?.firings ?? []) as Firing[];
  };

  it("a schedule firing every second starts one run per firing, and goes on after a scheduler restart and a Redis wipe", async () => {
    const tenant = await createTenant(cluster.baseUrl, "scheduled");
    const flowId = await flowOf(tenant, [step("a")]);
    const created = await call(tenant.key, "POST", `/v1/flows/${flowId}/schedules`, {
      cron: "* * * * * *",
      timezone: "Europe/Paris",
      input: "tick",
      metadata: { source: "test" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ flowId, cron: "* * * * * *", timezone: "Europe/Paris", firings: [] });
    const scheduleId = created.json.id as string;

    const started = (firings: Firing[]) => firings.filter((f) => f.outcome === "started");
    const before = await until(
      () => firingsOf(tenant, flowId),
      (f) => started(f).length >= 3,
    );
    expect(started(before).length).toBeGreaterThanOrEqual(3);

    // Kill the scheduler mid-schedule and start another: the schedule lives on (Postgres re-asserts it).
    await cluster.kill9(cluster.byName("scheduler"));
    cluster.spawn("scheduler", "scheduler-2");
    const after = await until(
      () => firingsOf(tenant, flowId),
      (f) => started(f).length >= started(before).length + 3,
      60_000,
    );
    expect(started(after).length).toBeGreaterThanOrEqual(started(before).length + 3);

    // Redis loses the flows queue (job schedulers included): the scheduler puts the schedule back from Postgres.
    await deleteRedisKeys(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", `${cluster.prefix}:flows:*`);
    const afterWipe = await until(
      () => firingsOf(tenant, flowId),
      (f) => started(f).length >= started(after).length + 2,
      30_000,
    );
    expect(started(afterWipe).length).toBeGreaterThanOrEqual(started(after).length + 2);

    // One run per firing: firing times are whole, distinct seconds, and each started run is its own.
    const times = afterWipe.map((f) => f.fireAt);
    expect(new Set(times).size).toBe(times.length);
    for (const t of times) expect(new Date(t).getUTCMilliseconds()).toBe(0);
    const runs = started(afterWipe).map((f) => f.run);
    expect(new Set(runs).size).toBe(runs.length);

    expect((await call(tenant.key, "DELETE", `/v1/flows/${flowId}/schedules/${scheduleId}`)).status).toBe(204);
    const flowAtDelete = (await call(tenant.key, "GET", `/v1/flows/${flowId}`)).json.run as number;
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await call(tenant.key, "GET", `/v1/flows/${flowId}`)).json.run).toBe(flowAtDelete);
    expect((await call(tenant.key, "GET", `/v1/flows/${flowId}/schedules`)).json.items).toEqual([]);
    // Every run the flow had came from a recorded firing: no firing ran twice.
    expect(flowAtDelete).toBeLessThanOrEqual(started(afterWipe).length + 1);
  });

  it("a firing that would exceed the user's spend cap is skipped and recorded", async () => {
    const tenant = await createTenant(cluster.baseUrl, "scheduled-capped");
    const flowId = await flowOf(tenant, [step("a")]);
    await call(tenant.key, "POST", `/v1/flows/${flowId}/execute?wait=true`, { input: "spend" });
    await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { monthlyUsd: 1 });
    const created = await call(tenant.key, "POST", `/v1/flows/${flowId}/schedules`, {
      cron: "* * * * * *",
      timezone: "UTC",
      input: "tick",
    });
    expect(created.status).toBe(201);
    const firings = await until(
      () => firingsOf(tenant, flowId),
      (f) => f.length >= 2,
    );
    expect(firings.length).toBeGreaterThanOrEqual(2);
    for (const f of firings) {
      expect(f).toMatchObject({ outcome: "skipped", run: null });
      expect(f.reason).toContain("monthly spend cap of $1 (monthlyUsd)");
    }
    expect((await call(tenant.key, "GET", `/v1/flows/${flowId}`)).json.run).toBe(1);
    await call(tenant.key, "DELETE", `/v1/flows/${flowId}/schedules/${created.json.id}`);
  });

  it("a member whose access the owner revoked no longer runs the flow: their firings are skipped, naming why", async () => {
    const owner = await createTenant(cluster.baseUrl, "thread-owner");
    const member = await createTenant(cluster.baseUrl, "thread-member");
    const flowId = await flowOf(owner, [step("a")]);
    const threadId = (await call(owner.key, "GET", `/v1/flows/${flowId}`)).json.threadId as string;
    const grant = (permissions: string[]) =>
      call(owner.key, "PUT", `/v1/threads/${threadId}/members/${member.userId}`, { permissions });
    expect((await grant(["write"])).status).toBe(200);
    const created = await call(member.key, "POST", `/v1/flows/${flowId}/schedules`, {
      cron: "* * * * * *",
      timezone: "UTC",
      input: "as the member",
    });
    expect(created.status).toBe(201);
    await until(
      () => firingsOf(owner, flowId),
      (f) => f.some((x) => x.outcome === "started"),
    );
    await grant([]);
    const firings = await until(
      () => firingsOf(owner, flowId),
      (f) => f[0]?.outcome === "skipped" && f[1]?.outcome === "skipped",
    );
    expect(firings[0]?.reason).toBe("the schedule's creator no longer has write permission on the flow's thread");
    await call(owner.key, "DELETE", `/v1/flows/${flowId}/schedules/${created.json.id}`);
  });

  it("validates cron and timezone, naming the field", async () => {
    const tenant = await createTenant(cluster.baseUrl, "schedule-bad");
    const flowId = await flowOf(tenant, [step("a")]);
    for (const [body, field] of [
      [{ cron: "61 * * * *", timezone: "UTC", input: "" }, "cron"],
      [{ cron: "every day", timezone: "UTC", input: "" }, "cron"],
      [{ cron: "0 9 * * *", timezone: "Mars/Olympus", input: "" }, "timezone"],
      [{ cron: "0 9 * * *", timezone: "UTC" }, "input"],
    ] as const) {
      const res = await call(tenant.key, "POST", `/v1/flows/${flowId}/schedules`, body);
      expect(res.status).toBe(400);
      expect(res.json.error.details.map((d: { path: string }) => d.path)).toEqual([field]);
    }
  });

  it("another user's flow is 404 for every schedule route", async () => {
    const owner = await createTenant(cluster.baseUrl, "schedule-owner");
    const stranger = await createTenant(cluster.baseUrl, "schedule-stranger");
    const flowId = await flowOf(owner, [step("a")]);
    const created = await call(owner.key, "POST", `/v1/flows/${flowId}/schedules`, {
      cron: "0 9 * * 1",
      timezone: "UTC",
      input: "weekly",
    });
    expect(created.status).toBe(201);
    const body = { cron: "0 9 * * 1", timezone: "UTC", input: "mine now" };
    expect((await call(stranger.key, "POST", `/v1/flows/${flowId}/schedules`, body)).status).toBe(404);
    expect((await call(stranger.key, "GET", `/v1/flows/${flowId}/schedules`)).status).toBe(404);
    const del = await call(stranger.key, "DELETE", `/v1/flows/${flowId}/schedules/${created.json.id}`);
    expect(del.status).toBe(404);
    expect((await call(owner.key, "GET", `/v1/flows/${flowId}/schedules`)).json.items).toHaveLength(1);
    expect((await call(owner.key, "DELETE", `/v1/flows/${flowId}/schedules/${created.json.id}`)).status).toBe(204);
  });
});

describe("the SDK", () => {
  it("creates, lists and deletes schedules, reads usage, and reports a reached cap as budget_exceeded", async () => {
    const tenant = await createTenant(cluster.baseUrl, "sdk-economics");
    const client = new EnsembleClient({ baseUrl: cluster.baseUrl, apiKey: tenant.key });
    const thread = await client.createThread("sdk");
    const flow = await client.createFlow(thread.id, { name: "sdk", type: "sequential", steps: [step("a")] });
    const result = await client.executeFlow(flow.id, { input: "bill me" });

    const usage = await client.getUsage({ groupBy: "flow", from: new Date(Date.now() - 60_000) });
    expect(usage.groups).toEqual([expect.objectContaining({ key: flow.id, calls: 1 })]);
    expect(usage.total.costUsd).toBeCloseTo(result.totalCost, 6);

    const schedule = await client.createSchedule(flow.id, {
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
      input: "",
    });
    expect(await client.listSchedules(flow.id)).toEqual([expect.objectContaining({ id: schedule.id, firings: [] })]);
    await client.deleteSchedule(flow.id, schedule.id);
    expect(await client.listSchedules(flow.id)).toEqual([]);
    await expect(
      client.createSchedule(flow.id, { cron: "0 9 * * *", timezone: "Nowhere", input: "" }),
    ).rejects.toMatchObject({
      status: 400,
      details: [expect.objectContaining({ path: "timezone" })],
    });

    await call(ADMIN_TOKEN, "PUT", `/v1/admin/users/${tenant.userId}/limits`, { monthlyUsd: 0.5 });
    const refused = await client.executeFlow(flow.id, { input: "again" }).catch((error: unknown) => error);
    expect(isEnsembleApiError(refused, "budget_exceeded")).toBe(true);
    expect(refused).toMatchObject({ status: 402, retryAfterMs: expect.any(Number) });
  });
});
