import { ApiClient } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { expectAllAlive, expectExactlyOnce, startLoad, waitAllCompleted } from "./fault-load.js";
import { PrivatePostgres } from "./private-stores.js";

const OUTAGE_MS = 15_000;

/** Postgres stopped under load, on a Postgres server of this test's own. */

describe("a Postgres outage under load", () => {
  let pg: PrivatePostgres;
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
    cluster = await Cluster.start({
      workers: 2,
      postgresServerUrl: pg.url,
      env: { STEP_LEASE_MS: "5000", SWEEP_EVERY_MS: "1000" },
    });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
    await pg?.stop();
  });

  it(`stopped for ${OUTAGE_MS / 1000} s: no process dies, the API answers 503 fast, every flow completes once afterwards`, async () => {
    const flowIds = await startLoad(api, threadId, 30, 400);
    const spare = await api.createFlow(threadId, {
      name: "during the outage",
      type: "sequential",
      steps: [{ id: "x", provider: "sim", model: "echo", action: "generate", prompt: "x" }],
    });
    await new Promise((r) => setTimeout(r, 600));

    await pg.down();
    const downAt = Date.now();
    // While it is down: the API refuses work quickly, with Retry-After, and says why.
    const asked = Date.now();
    const refused = await fetch(`${cluster.baseUrl}/v1/flows/${spare}/execute`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${DEV_KEY}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(Date.now() - asked).toBeLessThan(3_000);
    const ready = await fetch(`${cluster.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { down: string[] }).down).toContain("postgres");
    while (Date.now() - downAt < OUTAGE_MS) {
      expectAllAlive(cluster);
      await new Promise((r) => setTimeout(r, 1_000));
    }

    await pg.up();
    const recoveryMs = await waitAllCompleted(api, flowIds, 60_000);
    expectAllAlive(cluster);
    await expectExactlyOnce(cluster, api, threadId, flowIds);
    // The flow refused during the outage did not run, and runs now when asked again.
    expect((await api.status(spare)).status).toBe("pending");
    expect((await api.execute(spare, {}, true)).body.status).toBe("completed");
    console.log(`postgres outage ${OUTAGE_MS} ms under 30 flows: all completed ${recoveryMs} ms after it returned`);
  });
});
