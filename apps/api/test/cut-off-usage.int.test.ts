import { listRunSteps, recordCutOffCall } from "@ensemble/db";
import { TestApi } from "./support/test-api.js";

jest.setTimeout(60_000);

interface Totals {
  costUsd: number;
  calls: number;
  cutOffCalls: number;
  cutOffCostUsd: number;
  promptTokens: number;
  completionTokens: number;
}

// A provider call cut off by a lost lease is money the caller sees: in their usage (marked as
// estimated) and in the run's totals. The engine test makes a worker lose a lease mid-call;
// here the worker's record is written as it writes it, and the API is read.
describe("a call cut off by a lost lease, through the API", () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("is in GET /v1/usage as a cut-off call with its estimated cost, and in the run's totals", async () => {
    const { userId, key } = await api.createUser();
    const definition = {
      name: "one step",
      type: "sequential",
      steps: [{ id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
    };
    const thread = await api.request<{ id: string }>(key, "POST", "/v1/threads", { title: "cut off" });
    const flow = await api.request<{ id: string }>(key, "POST", "/v1/flows", { threadId: thread.body.id, definition });
    const run = await api.request<{ status: string }>(key, "POST", `/v1/flows/${flow.body.id}/execute?wait=true`, {
      input: "hello",
    });
    expect(run.body.status).toBe("completed");
    const [step] = await listRunSteps(api.engine.deps.db, flow.body.id, 1);
    // The worker that held lease 1 before the step's committing worker took it over.
    await recordCutOffCall(api.engine.deps.db, {
      stepResultId: step!.id,
      attempt: 0,
      leaseToken: 1,
      flowId: flow.body.id,
      run: 1,
      userId,
      provider: "sim",
      model: "echo",
      promptTokens: 30,
      completionTokens: 12,
      cost: 0.125,
    });

    const usage = await api.request<{ total: Totals; groups: (Totals & { key: string })[] }>(
      key,
      "GET",
      "/v1/usage?groupBy=flow",
    );
    expect(usage.status).toBe(200);
    // The sim is free: the committed attempt costs nothing, the cut-off call its estimate.
    expect(usage.body.total).toMatchObject({ calls: 2, cutOffCalls: 1, costUsd: 0.125, cutOffCostUsd: 0.125 });
    expect(usage.body.groups).toEqual([
      expect.objectContaining({ key: flow.body.id, calls: 2, cutOffCalls: 1, cutOffCostUsd: 0.125 }),
    ]);

    const shown = await api.request<{ totalCost: number; totalTokens: number }>(
      key,
      "GET",
      `/v1/flows/${flow.body.id}`,
    );
    // The run's totals are its billed calls': the committed attempt and the cut-off call.
    const billedTokens = usage.body.total.promptTokens + usage.body.total.completionTokens;
    expect(shown.body).toMatchObject({ totalCost: 0.125, totalTokens: billedTokens });
    const runs = await api.request<{ items: { run: number; totalCost: number }[] }>(
      key,
      "GET",
      `/v1/flows/${flow.body.id}/runs`,
    );
    expect(runs.body.items).toEqual([expect.objectContaining({ run: 1, totalCost: 0.125 })]);
    const status = await api.request<{ totalCost: number }>(key, "GET", `/v1/flows/${flow.body.id}/status`);
    expect(status.body.totalCost).toBe(0.125);
  });
});
