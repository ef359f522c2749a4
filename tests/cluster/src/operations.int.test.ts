import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";

const ADMIN_TOKEN = "cluster-admin-token-0123456789abcdef";
// Secrets and prompt text that must never reach Redis job data, hence Bull Board.
const PROVIDER_KEY = "sk-canary-provider-key-0123456789";
const PROMPT_CANARY = "canary-prompt-text-4f1c2a";

const FLOWS = 3;
const STEPS_PER_FLOW = 2;

/**
 * /metrics and Bull Board of a real cluster: the API, a scheduler and two workers as
 * separate processes. Steps run only in the workers, so step metrics served by the API
 * can only come from what the workers recorded in Redis.
 */
describe("operations surface across processes (api + scheduler + 2 workers)", () => {
  let cluster: Cluster;
  let api: ApiClient;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    cluster = await Cluster.start({
      workers: 2,
      // OPENAI_* configure the openai adapter (no step uses it: nothing is ever sent there).
      env: { ADMIN_TOKEN, OPENAI_API_KEY: PROVIDER_KEY, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    });
    api = new ApiClient(cluster.baseUrl);
    const threadId = await api.createThread();
    for (let i = 0; i < FLOWS; i += 1) {
      const flowId = await api.createFlow(threadId, {
        name: `Metered ${i}`,
        type: "sequential",
        steps: [simStep("draft", { prompt: "original" }), simStep("review")],
      });
      const res = await api.execute(flowId, { input: `${PROMPT_CANARY} ${i}` }, true);
      expect(res.body.status).toBe("completed");
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function scrape(): Promise<string> {
    const res = await fetch(`${cluster.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  }

  /** The value of one sample line, e.g. `ensemble_step_attempts_total{provider="sim",model="echo",status="success"}`. */
  function sample(text: string, series: string): number | undefined {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  it("/metrics on the API shows the steps the workers ran: counts, latency, tokens", async () => {
    const expected = FLOWS * STEPS_PER_FLOW;
    // Workers record right after each commit without waiting for it: allow a moment.
    let text = await scrape();
    for (
      let i = 0;
      i < 50 &&
      (sample(text, 'ensemble_step_attempts_total{provider="sim",model="echo",status="success"}') ?? 0) < expected;
      i += 1
    ) {
      await new Promise((r) => setTimeout(r, 100));
      text = await scrape();
    }
    expect(sample(text, 'ensemble_step_attempts_total{provider="sim",model="echo",status="success"}')).toBe(expected);
    expect(sample(text, 'ensemble_step_duration_seconds_count{provider="sim",model="echo"}')).toBe(expected);
    expect(sample(text, 'ensemble_step_duration_seconds_bucket{provider="sim",model="echo",le="+Inf"}')).toBe(expected);
    expect(sample(text, 'ensemble_step_duration_seconds_sum{provider="sim",model="echo"}')).toBeGreaterThan(0);
    expect(sample(text, 'ensemble_step_tokens_total{provider="sim",model="echo",kind="prompt"}')).toBeGreaterThan(0);
    expect(sample(text, 'ensemble_step_tokens_total{provider="sim",model="echo",kind="completion"}')).toBeGreaterThan(
      0,
    );
    // Every flow ended: none active; the queues hold nothing waiting.
    expect(sample(text, 'ensemble_flows{status="running"}')).toBe(0);
    expect(sample(text, 'ensemble_flows{status="queued"}')).toBe(0);
    for (const queue of ["steps", "steps-sim", "steps-openai"]) {
      expect(sample(text, `ensemble_queue_jobs{queue="${queue}",state="waiting"}`)).toBe(0);
      expect(sample(text, `ensemble_queue_jobs{queue="${queue}",state="failed"}`)).toBe(0);
    }
    // Both workers serve both configured providers.
    expect(sample(text, 'ensemble_provider_live_workers{provider="sim"}')).toBe(2);
    expect(sample(text, 'ensemble_provider_live_workers{provider="openai"}')).toBe(2);
    expect(text).not.toContain(PROMPT_CANARY);
  });

  it("Bull Board: 401 without the token; with it, every queue (one per provider) and readable job names", async () => {
    expect((await fetch(`${cluster.baseUrl}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${cluster.baseUrl}/admin/queues/api/queues`)).status).toBe(401);
    const res = await fetch(
      `${cluster.baseUrl}/admin/queues/api/queues?activeQueue=steps-sim&status=completed&page=1&jobsPerPage=50`,
      { headers: admin },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string; jobs: { name: string; returnValue: unknown }[] }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(["flows", "steps", "steps-openai", "steps-sim"]);
    const jobs = body.queues.find((q) => q.name === "steps-sim")?.jobs ?? [];
    expect(jobs.map((j) => j.name)).toEqual(
      expect.arrayContaining(["step.run · Metered 0 › draft", "step.run · Metered 2 › draft"]),
    );
    // A run's next step runs in the job of the step before it, whose return value names it.
    expect(jobs.find((j) => j.name === "step.run · Metered 2 › draft")?.returnValue).toEqual({
      result: "done",
      continuedWith: ["Metered 2 › review"],
    });
  });

  it("Bull Board's JSON API shows no prompt text, provider key, API key or admin token", async () => {
    const bodies: string[] = [];
    for (const queue of ["flows", "steps", "steps-sim", "steps-openai"]) {
      for (const status of ["latest", "completed", "failed", "delayed", "waiting", "active"]) {
        const res = await fetch(
          `${cluster.baseUrl}/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=100`,
          { headers: admin },
        );
        expect(res.status).toBe(200);
        bodies.push(await res.text());
      }
    }
    const all = bodies.join("\n");
    expect(all).toContain("step.run"); // the jobs are there…
    for (const secret of [PROMPT_CANARY, PROVIDER_KEY, DEV_KEY, ADMIN_TOKEN]) expect(all).not.toContain(secret); // …their secrets are not
  });
});
