import { listLedger, listRunSteps } from "@ensemble/db";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY, freePort } from "./cluster-harness.js";
import {
  expectAllAlive,
  expectDurableHistories,
  expectExactlyOnce,
  LOAD_STEPS,
  startLoad,
  waitAllCompleted,
} from "./fault-load.js";
import { PrivateRedis, waitFor } from "./private-stores.js";

/** Redis wiped and filled under load, on a Redis of this test's own. */
describe("Redis faults under load", () => {
  let redis: PrivateRedis;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    redis = await PrivateRedis.start({ maxmemory: "64mb" });
    cluster = await Cluster.start({
      workers: 2,
      redisUrl: redis.url,
      env: { STEP_LEASE_MS: "3000", SWEEP_EVERY_MS: "1000", ARCHIVED_EVENTS_TTL_MS: "5000" },
    });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  it("full (maxmemory, noeviction): execute answers 503 with Retry-After and does not run; /readyz says so; all runs once memory is freed", async () => {
    const flowId = await api.createFlow(threadId, { name: "while full", type: "sequential", steps: [simStep("x")] });
    // One big value takes Redis past its limit: from then on it refuses writes.
    expect(redis.cli("SETRANGE", "filler", String(80 * 1024 * 1024), "x")).toMatch(/^\d+$/);

    const refused = await fetch(`${cluster.baseUrl}/v1/flows/${flowId}/execute`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    const ready = await fetch(`${cluster.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ down: ["redis"], checks: { redisFull: true } });
    // The answer was the truth: the run was taken back, nothing ran.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await api.status(flowId)).status).toBe("pending");

    redis.cli("DEL", "filler");
    await waitFor(
      async () => (await fetch(`${cluster.baseUrl}/readyz`)).ok,
      10_000,
      "not ready after memory was freed",
    );
    expect((await api.execute(flowId, {}, true)).body.status).toBe("completed");
    expectAllAlive(cluster);
  });

  it("wiped (FLUSHALL) under load: every accepted flow completes without a restart, each step's effects once; archived streams expire", async () => {
    const flowIds = await startLoad(api, threadId, 20, 300);
    await new Promise((r) => setTimeout(r, 500));
    const wipedAt = Date.now();
    expect(redis.cli("FLUSHALL")).toBe("OK");

    // The sweep's schedule is re-asserted and the sweep rebuilds the runs' jobs from Postgres.
    const recoveryMs = await waitAllCompleted(api, flowIds, 100_000);
    expectAllAlive(cluster);
    const db = cluster.database!.handle.db;
    for (const flowId of flowIds) {
      const rows = await listRunSteps(db, flowId, 1);
      expect(rows.map((r) => [r.stepId, r.status])).toEqual(LOAD_STEPS.map((id) => [id, "success"]));
      expect((await listLedger(db, flowId)).map((l) => l.stepResultId).sort()).toEqual(rows.map((r) => r.id).sort());
    }
    console.log(`redis wiped under 20 flows: all completed ${recoveryMs} ms after (${Date.now() - wipedAt} ms)`);
    // Their event histories too: the events the wipe took are published again from the outbox.
    await expectDurableHistories(api, flowIds, LOAD_STEPS);

    // Archived flows' streams are kept ARCHIVED_EVENTS_TTL_MS, not 7 days.
    const key = `${cluster.prefix}:flow:{${flowIds[0]}}:events`;
    await waitFor(() => Number(redis.cli("TTL", key)) <= 5 || redis.cli("EXISTS", key) === "0", 15_000, "stream kept");
  });
});

/**
 * Redis gone for longer than a BullMQ job lock (STEP_LEASE_MS) while provider calls run: the
 * locks lapse and BullMQ hands the jobs out again, but a step's lease lives in Postgres and is
 * renewed there, so no step is called twice. On a Redis of this test's own with an AOF, so the
 * data survives as it does in production.
 */
describe("Redis blips during provider calls", () => {
  let redis: PrivateRedis;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  /** Each worker's HEALTH_PORT, where it counts the steps it took over. */
  const healthUrls: string[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start({ appendOnly: true });
    cluster = await Cluster.start({
      workers: 0,
      redisUrl: redis.url,
      env: { STEP_LEASE_MS: "3000", SWEEP_EVERY_MS: "1000" },
    });
    for (const name of ["worker-1", "worker-2"]) {
      const port = await freePort();
      cluster.spawn("worker", name, { HEALTH_PORT: String(port) });
      healthUrls.push(`http://127.0.0.1:${port}`);
    }
    await cluster.waitReady();
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });

  /** Steps the workers took over, by their own count (`ensemble_lease_takeovers_total`). */
  async function takeovers(): Promise<number> {
    let total = 0;
    for (const url of healthUrls) {
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toContain("# TYPE ensemble_lease_takeovers_total counter");
      for (const line of text.split("\n"))
        if (line.startsWith("ensemble_lease_takeovers_total")) total += Number(line.split(" ").pop());
    }
    return total;
  }
  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  it("unresponsive (CLIENT PAUSE) past the job locks: every flow completes, no step is taken over or called twice", async () => {
    const flowIds = await startLoad(api, threadId, 12, 1_500);
    await new Promise((r) => setTimeout(r, 700));
    expect(redis.cli("CLIENT", "PAUSE", "5000", "ALL")).toBe("OK");

    const recoveryMs = await waitAllCompleted(api, flowIds, 90_000);
    expectAllAlive(cluster);
    await expectExactlyOnce(cluster, api, threadId, flowIds, { noTakeover: true });
    expect(await takeovers()).toBe(0);
    console.log(`redis paused 5 s under 12 flows: all completed ${recoveryMs} ms after`);
  });

  it("down for 5 s (connections refused) past the job locks: every flow completes, no step is taken over or called twice", async () => {
    const flowIds = await startLoad(api, threadId, 12, 1_500);
    await new Promise((r) => setTimeout(r, 700));
    await redis.down();
    await new Promise((r) => setTimeout(r, 5_000));
    await redis.up();

    const recoveryMs = await waitAllCompleted(api, flowIds, 90_000);
    expectAllAlive(cluster);
    await expectExactlyOnce(cluster, api, threadId, flowIds, { noTakeover: true });
    expect(await takeovers()).toBe(0);
    console.log(`redis down 5 s under 12 flows: all completed ${recoveryMs} ms after`);
  });
});
