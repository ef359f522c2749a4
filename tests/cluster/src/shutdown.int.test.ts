import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { expectExactlyOnce, startLoad, waitAllCompleted } from "./fault-load.js";

const DRAIN_MS = 8_000;
jest.setTimeout(240_000);

/** SIGTERM to every process under load, in the order an orchestrator's rolling stop sends it. */
describe("SIGTERM under load", () => {
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 2, env: { DRAIN_MS: String(DRAIN_MS), STEP_LEASE_MS: "3000" } });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("readyz fails at once, a held ?wait=true gets 202, SSE ends with a retry hint, workers drain once, every process exits 0; the flows complete after", async () => {
    const flowIds = await startLoad(api, threadId, 10, 800);
    const held = await api.createFlow(threadId, {
      name: "held",
      type: "sequential",
      steps: [simStep("long", { model: "slow?latencyMs=4000" })],
    });
    const waiting = api.execute(held, {}, true);
    const sse = fetch(`${cluster.baseUrl}/v1/flows/${flowIds[0]}/events`, {
      headers: { authorization: `Bearer ${DEV_KEY}` },
    }).then((res) => res.text());
    await new Promise((r) => setTimeout(r, 700));

    const stopping = [...cluster.processes];
    const apiProcess = cluster.byName("api");
    const signalledAt = Date.now();
    apiProcess.child.kill("SIGTERM");
    for (const p of stopping.filter((p) => p.role === "worker")) {
      // A process group's SIGTERM reaches the process twice (its wrapper forwards it).
      p.child.kill("SIGTERM");
      p.child.kill("SIGTERM");
    }
    cluster.byName("scheduler").child.kill("SIGTERM");
    // The signal reaches the process within its next event-loop turn; readiness fails from then on.
    await new Promise((r) => setTimeout(r, 100));
    const readyz = await fetch(`${cluster.baseUrl}/readyz`).catch(() => null);
    expect(readyz === null || readyz.status === 503).toBe(true);

    const answer = await waiting;
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ flowId: held, run: 1, status: "running" });
    expect(await sse).toMatch(/(^|\n)retry: \d+\n\n$/);

    const codes = await Promise.all(stopping.map((p) => p.exited));
    expect(codes).toEqual(stopping.map(() => 0));
    const stoppedMs = Date.now() - signalledAt;
    expect(stoppedMs).toBeLessThan(DRAIN_MS + 3_000);

    // Replacements, as the orchestrator starts them (the stopped processes are done with).
    cluster.processes.splice(0, cluster.processes.length);
    cluster.spawn("api", "api-2");
    cluster.spawn("scheduler", "scheduler-2");
    cluster.spawn("worker", "worker-3");
    cluster.spawn("worker", "worker-4");
    await cluster.waitReady(120_000);
    const recoveryMs = await waitAllCompleted(api, flowIds, 60_000);
    await api.waitForStatus(held, ["completed"], 30_000);
    await expectExactlyOnce(cluster, api, threadId, flowIds);
    console.log(
      `SIGTERM under 10 flows: all processes exited 0 in ${stoppedMs} ms; completed ${recoveryMs} ms after restart`,
    );
  });
});
