import { listRunSteps } from "@ensemble/db";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

describe("load", () => {
  let cluster: Cluster;
  let api: ApiClient;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 2 });
    api = new ApiClient(cluster.baseUrl);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("200 concurrent flows complete with no lost or duplicated step", async () => {
    const threadId = await api.createThread();
    const definition = {
      name: "load",
      type: "parallel",
      steps: [
        simStep("a", { model: "slow?latencyMs=20" }),
        simStep("b"),
        simStep("agg", { aggregate: true, prompt: "{{ all }}" }),
      ],
    };
    const flowIds = await Promise.all(Array.from({ length: 200 }, () => api.createFlow(threadId, definition)));
    const started = await Promise.all(flowIds.map((id, i) => api.execute(id, { input: `request ${i}` })));
    expect(started.every((r) => r.status === 202)).toBe(true);

    const deadline = Date.now() + 90_000;
    const pending = new Set(flowIds);
    while (pending.size > 0 && Date.now() < deadline) {
      const statuses = await Promise.all([...pending].map(async (id) => [id, (await api.status(id)).status] as const));
      for (const [id, status] of statuses) if (status !== "queued" && status !== "running") pending.delete(id);
      if (pending.size) await new Promise((r) => setTimeout(r, 250));
    }
    expect(pending.size).toBe(0);

    const db = cluster.database!.handle.db;
    for (const [i, id] of flowIds.entries()) {
      const rows = await listRunSteps(db, id, 1);
      expect(rows.map((r) => `${r.stepId}:${r.status}`).sort()).toEqual(["a:success", "agg:success", "b:success"]);
      expect(rows.find((r) => r.stepId === "b")?.output).toBe(`echo: b: request ${i}`);
    }
  });
});
