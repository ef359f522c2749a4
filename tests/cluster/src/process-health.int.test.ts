import { createRedisConnection } from "@ensemble/queue";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster, freePort, type ClusterProcess } from "./cluster-harness.js";

/**
 * A worker and a scheduler as separate processes, each with HEALTH_PORT: /healthz, /readyz
 * (Redis, Postgres and the queues it consumes) and /metrics of the process itself; and an
 * API whose /metrics moves to its HEALTH_PORT.
 */
describe("health and metrics on HEALTH_PORT: worker, scheduler and API", () => {
  let cluster: Cluster;
  let api: ApiClient;
  let worker: { proc: ClusterProcess; url: string };
  let scheduler: { proc: ClusterProcess; url: string };

  const startWith = async (
    role: "worker" | "scheduler",
    name: string,
  ): Promise<{ proc: ClusterProcess; url: string }> => {
    const port = await freePort();
    const proc = cluster.spawn(role, name, { HEALTH_PORT: String(port) });
    return { proc, url: `http://127.0.0.1:${port}` };
  };

  beforeAll(async () => {
    // The cluster's own scheduler and worker have no HEALTH_PORT; these two do.
    cluster = await Cluster.start({ workers: 0 });
    worker = await startWith("worker", "health-worker");
    scheduler = await startWith("scheduler", "health-scheduler");
    await cluster.waitReady();
    // A process serves HEALTH_PORT once its engine is up, which can be after the API is ready.
    await Promise.all([waitReady(worker.url), waitReady(scheduler.url)]);
    api = new ApiClient(cluster.baseUrl);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("answers /healthz and /readyz, naming Redis, Postgres and each queue it consumes", async () => {
    for (const target of [worker, scheduler]) {
      expect(await (await fetch(`${target.url}/healthz`)).json()).toEqual({ status: "ok" });
    }
    const workerReady = await waitReady(worker.url);
    expect(workerReady).toEqual({
      status: "ready",
      checks: { redis: true, postgres: true, "queue:steps-sim": true, "queue:steps": true },
    });
    expect(await waitReady(scheduler.url)).toEqual({
      status: "ready",
      checks: { redis: true, postgres: true, "queue:flows": true },
    });
    expect((await fetch(`${worker.url}/nothing`)).status).toBe(404);
  });

  it("serves each process's metrics: Node and the event loop, jobs per queue, steps in flight per provider", async () => {
    const threadId = await api.createThread();
    const flowId = await api.createFlow(threadId, {
      name: "Observed",
      type: "sequential",
      steps: [simStep("draft", { prompt: "original" }), simStep("review")],
    });
    expect((await api.execute(flowId, { input: "watch me" }, true)).status).toBe(200);

    // The run can be committed (its last step's end and the run's end in one batch) before
    // the step job's handler returns and BullMQ counts the job.
    const workerText = await metricsMatching(
      worker.url,
      /^ensemble_jobs_processed_total\{queue="steps-sim",role="worker"\} [1-9]\d*$/m,
    );
    expect(workerText).toMatch(/^nodejs_eventloop_lag_p99_seconds\{role="worker"\} [\d.e-]+$/m);
    expect(workerText).toMatch(/^process_resident_memory_bytes\{role="worker"\} \d+/m);
    expect(workerText).toMatch(/^ensemble_steps_in_flight\{provider="sim",role="worker"\} 0$/m);
    expect(workerText).toContain("# TYPE ensemble_lease_renewals_total counter");
    expect(workerText).toContain("# TYPE ensemble_lease_takeovers_total counter");
    expect(workerText).toContain("# TYPE ensemble_provider_rate_limit_waits_total counter");
    expect(workerText).toContain("# TYPE ensemble_user_cap_waits_total counter");
    expect(workerText).toContain("# TYPE ensemble_jobs_failed_total counter");

    // The cluster's own scheduler may take this run's flow jobs; the once-a-second archive job
    // reaches this one within a few seconds.
    const schedulerText = await metricsMatching(
      scheduler.url,
      /^ensemble_jobs_processed_total\{queue="flows",role="scheduler"\} [1-9]\d*$/m,
    );
    expect(schedulerText).toMatch(/^nodejs_eventloop_lag_seconds\{role="scheduler"\} [\d.e-]+$/m);
  });

  it("drains and exits 0 on SIGTERM, the health server closing with it", async () => {
    worker.proc.child.kill("SIGTERM");
    expect(await worker.proc.exited).toBe(0);
  });

  it("the scheduler's /queues counts each pool's steps for KEDA, prioritized ones included", async () => {
    // No worker consumes steps-sim now (the one above has drained): ids put where BullMQ keeps
    // waiting jobs stay there. A redis list trigger on :wait would see 1 of these 3.
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "queues-test",
    });
    const key = (set: string): string => `${cluster.prefix}:steps-sim:${set}`;
    try {
      await redis.rpush(key("wait"), "queued-1");
      await redis.zadd(key("prioritized"), 1, "prioritized-1", 2, "prioritized-2");
      const res = await fetch(`${scheduler.url}/queues`);
      expect(res.status).toBe(200);
      const depths = (await res.json()) as Record<string, { waiting: number; active: number }>;
      expect(depths["steps-sim"]).toEqual({ waiting: 3, active: 0, delayed: 0, failed: 0 });
      expect(depths.flows).toMatchObject({ active: expect.any(Number) });
    } finally {
      await redis.del(key("wait"), key("prioritized"));
      await redis.quit();
    }
  });

  it("an API with HEALTH_PORT serves its metrics there, not on its public port", async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const proc = cluster.spawn("api", "health-api", { PORT: String(port), HEALTH_PORT: String(healthPort) });
    const publicUrl = `http://127.0.0.1:${port}`;
    const healthUrl = `http://127.0.0.1:${healthPort}`;
    expect(await waitReady(healthUrl)).toEqual({
      status: "ready",
      checks: { redis: true, postgres: true, accepting: true },
    });
    expect(await waitReady(publicUrl)).toMatchObject({ status: "ready" });
    expect(await (await fetch(`${healthUrl}/healthz`)).json()).toEqual({ status: "ok" });

    expect((await fetch(`${publicUrl}/metrics`)).status).toBe(404);
    const res = await fetch(`${healthUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    // The cluster's numbers (the runs above, their durations) and this process's HTTP requests.
    expect(text).toMatch(/^ensemble_flows_ended\{status="completed"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^ensemble_flow_duration_seconds_count\{flow_type="sequential",status="completed"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^ensemble_http_requests_total\{method="GET",route="\/readyz",status="200"\} [1-9]/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);

    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });
});

async function waitReady(url: string, timeoutMs = 30_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok || Date.now() > deadline) return await res.json();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A process's /metrics once it matches `pattern` (polled for up to 10 s), asserted to match. */
async function metricsMatching(url: string, pattern: RegExp): Promise<string> {
  let text = "";
  for (let tries = 0; tries < 50 && !pattern.test(text); tries += 1) {
    if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    text = await (await fetch(`${url}/metrics`)).text();
  }
  expect(text).toMatch(pattern);
  return text;
}
