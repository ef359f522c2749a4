import { listLedger, listRunSteps } from "@ensemble/db";
import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type Tenant } from "./tenants.js";

/**
 * Runs, rerun and compare end to end: the API, the scheduler and a worker as separate
 * processes call the official SDKs against local vendor servers whose request logs show
 * which steps made a call. A critique flow runs once; a rerun from `critique` with another
 * model must reuse `generate` (no request, no ledger row, no cost), call the new model for
 * `critique` and run `refine` again, and leave the first run as it was.
 */

interface RunBody {
  run: number;
  status: string;
  rerunOf: { run: number; fromStep: string } | null;
  totalCost: number;
  totalTokens: number;
  startedAt: string | null;
  completedAt: string | null;
}
interface StepBody {
  stepId: string;
  iteration: number;
  status: string;
  provider: string;
  model: string;
  output: string | null;
  cost: number | null;
  reusedFrom?: number;
}
interface RunDetailBody extends RunBody {
  definition: { steps: { id: string; provider: string; model: string }[] };
  input: string;
  finalOutput: string | null;
  steps: StepBody[];
}

const CRITIQUE_FLOW = {
  name: "critique to rerun",
  type: "critique",
  steps: [
    { id: "generate", provider: "openai", model: "gpt-4o", action: "generate", prompt: "{{ original }}" },
    {
      id: "critique",
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      action: "critique",
      prompt: "Critique: {{ steps.generate.output }}",
    },
    {
      id: "refine",
      provider: "google",
      model: "gemini-2.5-flash",
      action: "refine",
      prompt: "Improve {{ steps.generate.output }} using {{ steps.critique.output }}",
    },
  ],
};

describe("runs, rerun and compare", () => {
  let vendors: FakeVendors;
  let cluster: Cluster;
  let api: ApiClient;
  let other: Tenant;
  let flowId: string;

  const get = async <T>(path: string): Promise<T> => {
    const res = await api.request<T>("GET", path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const waitForRun = async (run: number): Promise<RunDetailBody> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const detail = await get<RunDetailBody>(`/v1/flows/${flowId}/runs/${run}`);
      if (["completed", "failed", "cancelled", "timed_out"].includes(detail.status)) return detail;
      if (Date.now() > deadline) throw new Error(`run ${run} still ${detail.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stepOf = (run: RunDetailBody, stepId: string): StepBody => {
    const step = run.steps.find((s) => s.stepId === stepId);
    if (!step) throw new Error(`no ${stepId} in run ${run.run}`);
    return step;
  };

  /** Each vendor's answers: the critique differs by model, and the refinement says which critique it read. */
  const answer = (): void => {
    vendors.openai.respondWith((req) => ({
      text: req.model === "gpt-4o-mini" ? "Short critique: add one example." : "Vector clocks order events.",
      usage: { promptTokens: 100, completionTokens: 50 },
    }));
    vendors.anthropic.respondWith(() => ({
      text: "Long critique: explain causality, then add an example.",
      usage: { promptTokens: 200, completionTokens: 80 },
    }));
    vendors.google.respondWith((req) => ({
      text: `Refined (${req.prompt.includes("Short critique") ? "short" : "long"}): vector clocks, with an example.`,
      usage: { promptTokens: 300, completionTokens: 90 },
    }));
  };

  beforeAll(async () => {
    vendors = await startFakeVendors();
    answer();
    cluster = await Cluster.start({ workers: 1, env: { ...vendors.env, ADMIN_TOKEN } });
    api = new ApiClient(cluster.baseUrl);
    other = await createTenant(cluster.baseUrl, "someone else");
    const threadId = await api.createThread("reruns");
    flowId = await api.createFlow(threadId, CRITIQUE_FLOW);
    const first = await api.execute(flowId, { input: "Explain vector clocks" }, true);
    expect(first.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await vendors?.close();
  });

  it("reruns from a step with another model: earlier steps reused without a call, later ones run again, the source run unchanged", async () => {
    const sourceBefore = await get<RunDetailBody>(`/v1/flows/${flowId}/runs/1`);
    expect(sourceBefore).toMatchObject({ run: 1, status: "completed", rerunOf: null, input: "Explain vector clocks" });
    expect(sourceBefore.steps.map((s) => s.reusedFrom)).toEqual([undefined, undefined, undefined]);
    // From here the request logs hold the rerun's calls only.
    vendors.reset();
    answer();

    const rerun = await api.request("POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "critique",
      overrides: { critique: { provider: "openai", model: "gpt-4o-mini" } },
    });
    expect(rerun).toEqual({
      status: 202,
      body: { flowId, run: 2, status: "queued", rerunOf: { run: 1, fromStep: "critique" } },
    });
    const second = await waitForRun(2);
    expect(second).toMatchObject({ status: "completed", rerunOf: { run: 1, fromStep: "critique" } });
    expect(second.input).toBe("Explain vector clocks");
    expect(second.definition.steps.find((s) => s.id === "critique")).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
    });

    // generate: copied from run 1, no request for it, no cost.
    expect(stepOf(second, "generate")).toMatchObject({
      status: "success",
      output: "Vector clocks order events.",
      reusedFrom: 1,
      cost: 0,
    });
    // The only OpenAI request was the overridden critique's, with the reused draft in it; no Anthropic call at all.
    expect(vendors.openai.requests.map((r) => r.model)).toEqual(["gpt-4o-mini"]);
    expect(vendors.openai.requests[0]?.prompt).toContain("Critique: Vector clocks order events.");
    expect(vendors.anthropic.requests).toEqual([]);
    expect(vendors.google.requests).toHaveLength(1);
    expect(stepOf(second, "critique")).toMatchObject({ provider: "openai", model: "gpt-4o-mini" });
    expect(stepOf(second, "critique").reusedFrom).toBeUndefined();
    expect(second.finalOutput).toBe("Refined (short): vector clocks, with an example.");

    // The ledger: run 2 billed critique and refine only.
    const db = cluster.database!.handle.db;
    const run2Steps = await listRunSteps(db, flowId, 2);
    const billed = new Set((await listLedger(db, flowId)).map((row) => row.stepResultId));
    expect(run2Steps.filter((s) => billed.has(s.id)).map((s) => s.stepId)).toEqual(["critique", "refine"]);
    expect(second.totalCost).toBeCloseTo((stepOf(second, "critique").cost ?? 0) + (stepOf(second, "refine").cost ?? 0));

    // Run 1 reads as it did.
    expect(await get<RunDetailBody>(`/v1/flows/${flowId}/runs/1`)).toEqual(sourceBefore);

    const runs = await get<{ items: RunBody[] }>(`/v1/flows/${flowId}/runs`);
    expect(runs.items.map((r) => [r.run, r.status, r.rerunOf])).toEqual([
      [1, "completed", null],
      [2, "completed", { run: 1, fromStep: "critique" }],
    ]);
    expect(runs.items[0]?.totalCost).toBe(sourceBefore.totalCost);
    expect(runs.items[0]!.totalTokens).toBeGreaterThan(runs.items[1]!.totalTokens);
  });

  it("compares the two runs step by step with a word diff of their outputs and the totals", async () => {
    const res = await api.request<{
      runs: number[];
      steps: {
        stepId: string;
        results: ({ model: string; output: string; tokens: number; reusedFrom: number | null } | null)[];
        diff: { kind: string; text: string }[];
      }[];
      totals: { run: number; totalCost: number; totalTokens: number }[];
    }>("GET", `/v1/flows/${flowId}/compare?runs=1,2`);
    expect(res.status).toBe(200);
    const { steps, totals } = res.body;
    expect(steps.map((s) => s.stepId)).toEqual(["generate", "critique", "refine"]);
    const [generate, critique, refine] = steps;
    expect(generate?.diff.every((d) => d.kind === "same")).toBe(true);
    expect(generate?.results.map((r) => r?.reusedFrom)).toEqual([null, 1]);
    expect(critique?.results.map((r) => r?.model)).toEqual(["claude-sonnet-4-5", "gpt-4o-mini"]);
    expect(critique?.diff).toContainEqual({ kind: "removed", text: "Long" });
    expect(critique?.diff).toContainEqual({ kind: "added", text: "Short" });
    expect(refine?.diff).toContainEqual({ kind: "removed", text: "long" });
    expect(refine?.diff).toContainEqual({ kind: "added", text: "short" });
    // The pieces rebuild each output.
    const rebuilt = (kind: string) =>
      refine?.diff
        .filter((d) => d.kind !== kind)
        .map((d) => d.text)
        .join("");
    expect(rebuilt("added")).toBe(refine?.results[0]?.output);
    expect(rebuilt("removed")).toBe(refine?.results[1]?.output);
    expect(totals.map((t) => t.run)).toEqual([1, 2]);
    expect(totals[1]!.totalTokens).toBe(
      critique!.results[1]!.tokens + refine!.results[1]!.tokens + generate!.results[1]!.tokens,
    );
  });

  it("restarts the loop when the rerun starts inside it", async () => {
    const threadId = await api.createThread("loop rerun");
    const loopFlowId = await api.createFlow(threadId, {
      name: "refine loop",
      type: "refinement",
      maxIterations: 3,
      qualityThreshold: 0.8,
      steps: [
        simStep("draft", { model: "text?value=v0" }),
        simStep("evaluate", { model: "score?values=0.3,0.9", action: "evaluate", prompt: "score {{ draft }}" }),
        simStep("improve", { action: "refine", prompt: "improve {{ draft }}" }),
      ],
    });
    expect((await api.execute(loopFlowId, { input: "x" }, true)).status).toBe(200);
    const rerun = await api.request("POST", `/v1/flows/${loopFlowId}/runs/1/rerun`, {
      fromStep: "improve",
      overrides: { evaluate: { model: "score?values=0.95" } },
    });
    expect(rerun.status).toBe(202);
    let detail: RunDetailBody;
    const deadline = Date.now() + 30_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      detail = (await api.request<RunDetailBody>("GET", `/v1/flows/${loopFlowId}/runs/2`)).body;
    } while (detail.status !== "completed" && Date.now() < deadline);
    // The draft before the loop is reused; the loop starts again at iteration 1 with the new
    // evaluator, whose score ends it there (run 1's second iteration is not copied).
    expect(detail.steps.map((s) => [`${s.stepId}#${s.iteration}`, s.status, s.reusedFrom ?? null])).toEqual([
      ["draft#0", "success", 1],
      ["evaluate#1", "success", null],
      ["improve#1", "skipped", null],
    ]);
    expect(stepOf(detail, "evaluate")).toMatchObject({ model: "score?values=0.95" });
  });

  it("names bad rerun and compare requests, and refuses runs that do not exist", async () => {
    const bad = await api.request<{ error: { code: string; details: { path: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/runs/1/rerun`,
      { fromStep: "critique", overrides: { critique: { model: "" }, nosuch: { model: "x" } } },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d) => d.path).sort()).toEqual(["overrides.critique.model"]);
    const unknownStep = await api.request<{ error: { details: { path: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/runs/1/rerun`,
      { fromStep: "critique", overrides: { nosuch: { model: "x" } } },
    );
    expect(unknownStep.status).toBe(400);
    expect(unknownStep.body.error.details.map((d) => d.path)).toEqual(["overrides.nosuch"]);
    const unreadable = await api.request<{ error: { details: { path: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/runs/1/rerun`,
      { fromStep: "generate", overrides: { generate: { prompt: "{{ steps.refine.output }}" } } },
    );
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.error.details.map((d) => d.path)).toEqual(["overrides.generate.prompt"]);
    const unserved = await api.request<{ error: { details: { path: string; message: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/runs/1/rerun`,
      { fromStep: "critique", overrides: { critique: { provider: "mistral", model: "mistral-large" } } },
    );
    expect(unserved.status).toBe(400);
    expect(unserved.body.error.details).toEqual([
      { path: "overrides.critique.provider", message: expect.stringContaining('provider "mistral" is not served') },
    ]);
    const fromStep = await api.request<{ error: { details: { path: string }[] } }>(
      "POST",
      `/v1/flows/${flowId}/runs/1/rerun`,
      { fromStep: "polish" },
    );
    expect(fromStep.status).toBe(400);
    expect(fromStep.body.error.details.map((d) => d.path)).toEqual(["fromStep"]);
    expect((await api.request("POST", `/v1/flows/${flowId}/runs/9/rerun`, { fromStep: "critique" })).status).toBe(404);
    expect((await api.request("GET", `/v1/flows/${flowId}/runs/9`)).status).toBe(404);
    expect((await api.request("GET", `/v1/flows/${flowId}/runs/x`)).status).toBe(400);
    expect((await api.request("GET", `/v1/flows/${flowId}/compare?runs=1`)).status).toBe(400);
    expect((await api.request("GET", `/v1/flows/${flowId}/compare?runs=1,9`)).status).toBe(404);
    // Nothing above started a run.
    expect((await get<{ items: RunBody[] }>(`/v1/flows/${flowId}/runs`)).items).toHaveLength(2);
  });

  it("answers another user 404 on every run route", async () => {
    const as = (method: string, path: string, body?: unknown) =>
      send(cluster.baseUrl, { method, path, key: other.key, ...(body ? { body } : {}) });
    expect((await as("GET", `/v1/flows/${flowId}/runs`)).status).toBe(404);
    expect((await as("GET", `/v1/flows/${flowId}/runs/1`)).status).toBe(404);
    expect((await as("POST", `/v1/flows/${flowId}/runs/1/rerun`, { fromStep: "critique" })).status).toBe(404);
    expect((await as("GET", `/v1/flows/${flowId}/compare?runs=1,2`)).status).toBe(404);
  });

  it("checks a rerun's definition against the data-sharing policies: an override can break them or mend them", async () => {
    // Anthropic may no longer see other providers' outputs: run 1's critique (which reads OpenAI's draft) would break that.
    const policy = await api.request("PUT", "/v1/policies/anthropic", {
      allowConversationHistory: true,
      allowCrossProviderContext: false,
      allowAttachments: true,
    });
    expect(policy.status).toBe(200);
    type PolicyError = { error: { code: string; details: { path: string; provider: string }[] } };
    const refused = await api.request<PolicyError>("POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "critique",
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("policy_violation");
    expect(refused.body.error.details.map((d) => d.path)).toEqual(["definition.steps[1]"]);
    // Another Anthropic model breaks it too, and the refusal names the override.
    const stillAnthropic = await api.request<PolicyError>("POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "critique",
      overrides: { critique: { model: "claude-opus-4-1" } },
    });
    expect(stillAnthropic.status).toBe(403);
    expect(stillAnthropic.body.error.details.map((d) => [d.path, d.provider])).toEqual([
      ["overrides.critique", "anthropic"],
    ]);
    vendors.reset();
    answer();
    const allowed = await api.request<{ run: number }>("POST", `/v1/flows/${flowId}/runs/1/rerun`, {
      fromStep: "critique",
      overrides: { critique: { provider: "openai", model: "gpt-4o-mini" } },
    });
    expect(allowed.status).toBe(202);
    expect((await waitForRun(allowed.body.run)).status).toBe("completed");
    expect(vendors.anthropic.requests).toEqual([]);
  });
});
