import { listFlowEvents, listRunSteps } from "@ensemble/db";
import { ApiClient, simStep, type FlowBody } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

/** All five flow types end to end: HTTP API → scheduler → two worker processes → Postgres. */
describe("flow types through the cluster (api + scheduler + 2 workers)", () => {
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 2, env: { WORKER_CONCURRENCY: "2" } });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function run(
    definition: unknown,
    input = "the question",
  ): Promise<Record<string, unknown> & { steps: Record<string, unknown>[]; finalOutput: string }> {
    const flowId = await api.createFlow(threadId, definition);
    const res = await api.execute(flowId, { input }, true);
    expect(res.status).toBe(200);
    return res.body as never;
  }

  it("sequential: each step sees the one before", async () => {
    const result = await run({ name: "seq", type: "sequential", steps: [simStep("a"), simStep("b"), simStep("c")] });
    expect(result.status).toBe("completed");
    expect(result.finalOutput).toContain("c: echo: ");
    expect(result.finalOutput).toContain("b: echo: ");
    expect(result.steps.map((s) => s.stepId)).toEqual(["a", "b", "c"]);
  });

  it("parallel: steps spread over both workers, then the aggregate sees every answer", async () => {
    const steps = [1, 2, 3, 4, 5, 6].map((n) =>
      simStep(`p${n}`, { model: "slow?latencyMs=400", prompt: "answer {{ original }}" }),
    );
    const definition = {
      name: "par",
      type: "parallel",
      steps: [...steps, simStep("agg", { action: "compare", prompt: "Compare:\n{{ all }}", aggregate: true })],
    };
    const flowId = await api.createFlow(threadId, definition);
    const res = await api.execute(flowId, { input: "q" }, true);
    expect(res.body.status).toBe("completed");
    expect(res.body.finalOutput).toMatch(/### p1 \(sim\/slow\?latencyMs=400\)[\s\S]*### p6/);
    const rows = await listRunSteps(cluster.database!.handle.db, flowId, 1);
    const owners = new Set(rows.filter((r) => r.stepId.startsWith("p")).map((r) => r.leaseOwner?.split(":")[1]));
    expect(owners.size).toBe(2);
  });

  it("conditional (seed Example 3): only the matching expert runs", async () => {
    const result = await run(
      {
        name: "route",
        type: "conditional",
        steps: [
          simStep("classify", { model: "label?value=TECHNICAL", action: "analyze" }),
          simStep("technical_expert", { prompt: "original", condition: 'previous.contains("TECHNICAL")' }),
          simStep("creative_expert", { prompt: "original", condition: 'previous.contains("CREATIVE")' }),
        ],
      },
      "how do I tune postgres",
    );
    expect(result.status).toBe("completed");
    const byId = Object.fromEntries(result.steps.map((s) => [s.stepId, s.status]));
    expect(byId).toEqual({ classify: "success", technical_expert: "success", creative_expert: "skipped" });
    expect(result.finalOutput).toBe("echo: how do I tune postgres");
  });

  it("critique: generate → critique → refine, refine sees draft and critique", async () => {
    const result = await run({
      name: "crit",
      type: "critique",
      contextPolicy: { includeOriginalPrompt: false },
      steps: [
        simStep("generate", { model: "text?value=DRAFT", prompt: "write {{ original }}" }),
        simStep("critique", { model: "text?value=CRITIQUE", action: "critique", prompt: "critique {{ previous }}" }),
        simStep("refine", {
          action: "refine",
          prompt: "refine {{ steps.generate.output }} using {{ steps.critique.output }}",
        }),
      ],
    });
    expect(result.finalOutput).toBe("echo: refine DRAFT using CRITIQUE");
  });

  it("refinement: evaluate/refine iterations until the score reaches the threshold", async () => {
    const result = await run({
      name: "refine",
      type: "refinement",
      contextPolicy: { includeOriginalPrompt: false },
      maxIterations: 5,
      qualityThreshold: 0.8,
      steps: [
        simStep("draft", { model: "text?value=v0" }),
        simStep("evaluate", { model: "score?values=0.3,0.5,0.9", action: "evaluate", prompt: "score {{ draft }}" }),
        simStep("improve", { action: "refine", prompt: "improve {{ draft }}" }),
      ],
    });
    expect(result.status).toBe("completed");
    const iterations = result.steps.map((s) => `${String(s.stepId)}#${String(s.iteration)}`);
    expect(iterations).toEqual(["draft#0", "evaluate#1", "improve#1", "evaluate#2", "improve#2", "evaluate#3"]);
    expect(result.finalOutput).toBe("echo: improve echo: improve v0");
  });

  it("GET /v1/flows/:id returns the stored flow with its step results", async () => {
    const flowId = await api.createFlow(threadId, { name: "get", type: "sequential", steps: [simStep("only")] });
    await api.execute(flowId, { input: "x" }, true);
    const flow: FlowBody = await api.flow(flowId);
    expect(flow.status).toBe("completed");
    expect(flow.stepResults).toEqual([
      expect.objectContaining({ stepId: "only", status: "success", output: "echo: only: x" }),
    ]);
  });

  it("numbers a run's events 1, 2, 3 … and archives them in Postgres after it ends", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "events",
      type: "sequential",
      steps: [simStep("a"), simStep("b")],
    });
    await api.execute(flowId, { input: "x" }, true);
    const deadline = Date.now() + 15_000;
    let events = await listFlowEvents(cluster.database!.handle.db, flowId);
    while (!events.some((e) => e.type === "flow_complete") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      events = await listFlowEvents(cluster.database!.handle.db, flowId);
    }
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => `${e.type}${e.stepId ? `:${e.stepId}` : ""}`)).toEqual([
      "flow_start",
      "step_start:a",
      "step_progress:a",
      "step_complete:a",
      "step_start:b",
      "step_progress:b",
      "step_complete:b",
      "flow_complete",
    ]);
  });
});
