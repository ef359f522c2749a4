import { readFileSync } from "node:fs";
import { listOutboxKeys } from "@ensemble/db";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import {
  expectAllAlive,
  expectDurableHistories,
  expectExactlyOnce,
  LOAD_STEPS,
  startLoad,
  waitAllCompleted,
} from "./fault-load.js";
import { PrivateRedis, waitFor } from "./private-stores.js";

const PARALLEL_STEPS = ["p1", "p2", "p3"];

/**
 * No progress event is lost: a run's durable events are written to Postgres (the outbox) with
 * the commit that makes them true, so what Redis or a process lost after the commit is
 * published again. On a Redis of this test's own.
 */
describe("event outbox: events survive Redis and the processes that publish them", () => {
  let redis: PrivateRedis;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    redis = await PrivateRedis.start({ appendOnly: true });
    cluster = await Cluster.start({
      workers: 2,
      redisUrl: redis.url,
      env: { STEP_LEASE_MS: "3000", SWEEP_EVERY_MS: "1000" },
    });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  it("no fault: histories are unchanged (ids 1…n without a gap, each event once)", async () => {
    const flowIds = await startLoad(api, threadId, 4, 50);
    await waitAllCompleted(api, flowIds, 60_000);
    await expectExactlyOnce(cluster, api, threadId, flowIds);
  });

  it("Redis wiped (FLUSHALL) mid-run: every flow's history is complete, ordered and once, numbered on above the lost ids", async () => {
    const flowIds = await startLoad(api, threadId, 12, 400);
    // Parallel steps end alone, their ends (and events) group-committed.
    const parallelIds = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const flowId = await api.createFlow(threadId, {
          name: `fan ${i}`,
          type: "parallel",
          steps: [
            ...PARALLEL_STEPS.map((id) => simStep(id, { model: "slow?latencyMs=900", prompt: "{{ original }}" })),
            simStep("agg", { action: "compare", prompt: "Compare:\n{{ all }}", aggregate: true }),
          ],
        });
        expect((await api.execute(flowId, { input: "q" })).status).toBe(202);
        return flowId;
      }),
    );
    await new Promise((r) => setTimeout(r, 700));
    const before = await api.eventHistory(flowIds[0] as string);
    expect(redis.cli("FLUSHALL")).toBe("OK");

    await waitAllCompleted(api, [...flowIds, ...parallelIds], 90_000);
    expectAllAlive(cluster);
    await expectDurableHistories(api, flowIds, LOAD_STEPS);
    await expectDurableHistories(api, parallelIds, [PARALLEL_STEPS, "agg"]);
    // A client that saw ids before the wipe still sees every later event: ids never go back.
    const after = await api.eventHistory(flowIds[0] as string);
    const restored = after.filter((e) => e.type === "flow_complete")[0];
    expect(restored?.id).toBeGreaterThan(Math.max(0, ...before.map((e) => e.id)));
  });

  it("a worker killed while Redis is down, holding committed steps' events: every flow's history is complete, ordered and once", async () => {
    const flowIds = await startLoad(api, threadId, 8, 1_000);
    await new Promise((r) => setTimeout(r, 500));
    await redis.down();
    // The calls in flight end and commit to Postgres; their events wait in the workers' memory.
    const victim = cluster.byName("worker-1");
    await waitFor(
      () => readFileSync(victim.logFile, "utf8").includes("events wait to be delivered"),
      15_000,
      "worker-1 never held undelivered events",
    );
    await cluster.kill9(victim);
    await redis.up();

    const recoveryMs = await waitAllCompleted(api, flowIds, 90_000);
    await expectDurableHistories(api, flowIds, LOAD_STEPS);
    // Published (kept in Postgres, not only in the killed worker), archived, and then gone from the outbox.
    const db = cluster.database!.handle.db;
    await waitFor(
      async () => (await listOutboxKeys(db, flowIds)).length === 0,
      20_000,
      "outbox rows left after archival",
    );
    console.log(`worker killed while Redis was down: 8 flows completed ${recoveryMs} ms after Redis returned`);
  });
});
