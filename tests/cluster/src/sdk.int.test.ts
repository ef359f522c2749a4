import {
  createComparisonFlow,
  createConditionalRoutingFlow,
  createConsensusFlow,
  createCritiqueFlow,
  createQualityAssuranceFlow,
  createRefinementFlow,
  createSequentialAnalysisFlow,
  EnsembleApiError,
  EnsembleClient,
  FlowExecutionError,
  type FlowDefinitionInput,
  type FlowStreamUpdate,
} from "@ensemble/sdk";
import { Cluster, DEV_KEY } from "./cluster-harness.js";

/** The SDK against a live cluster (API, scheduler, worker as processes; sim provider): what a backend service sees. */
describe("@ensemble/sdk against the cluster", () => {
  let cluster: Cluster;
  let client: EnsembleClient;
  let threadId: string;

  beforeAll(async () => {
    // The templates name openai, anthropic and google: the worker serves them (keys for vendors
    // this test never calls), so the cluster's provider catalog accepts flows built from them.
    cluster = await Cluster.start({
      workers: 1,
      env: { OPENAI_API_KEY: "sk-test-unused", ANTHROPIC_API_KEY: "sk-ant-test-unused", GEMINI_API_KEY: "test-unused" },
    });
    client = new EnsembleClient({ baseUrl: cluster.baseUrl, apiKey: DEV_KEY });
    threadId = (await client.createThread("sdk")).id;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const chain = (model = "slow?latencyMs=150&tokensPerSecond=40", steps = 3): FlowDefinitionInput => ({
    name: "chain",
    type: "sequential",
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i + 1}`,
      provider: "sim",
      model,
      action: "generate" as const,
      prompt: `part ${i + 1}: {{ original }}`,
    })),
  });

  it("executeFlow with streaming: onUpdate gets this run's events in order, then resolves with the result", async () => {
    // The positional order (threadId, userId, definition) works; the user is the key's.
    const flow = await client.createFlow(threadId, "ignored-user-id", chain());
    expect(flow).toMatchObject({ threadId, name: "chain", status: "pending", run: 0 });
    const updates: FlowStreamUpdate[] = [];
    const result = await client.executeFlow(flow.id, "ignored-user-id", {
      input: "hi",
      streaming: true,
      onUpdate: (u) => updates.push(u),
    });
    expect(result).toMatchObject({ flowId: flow.id, status: "completed" });
    expect(result.finalOutput).toMatch(/part 3: hi$/);
    expect(updates[0]).toMatchObject({
      type: "flow_start",
      flowId: flow.id,
      data: expect.objectContaining({ run: 1 }),
    });
    expect(updates.at(-1)).toMatchObject({ type: "flow_complete" });
    expect(updates.map((u) => u.id)).toEqual(updates.map((_, i) => updates[0]!.id + i));
    expect(updates.some((u) => u.type === "step_progress")).toBe(true);
    expect(updates.filter((u) => u.type === "step_complete").map((u) => u.stepId)).toEqual(["s1", "s2", "s3"]);

    // A second run: only its own events reach onUpdate (the stream starts at the flow's first event).
    const second: FlowStreamUpdate[] = [];
    await client.executeFlow(flow.id, { input: "again", onUpdate: (u) => second.push(u) });
    expect(second[0]).toMatchObject({ type: "flow_start", data: expect.objectContaining({ run: 2 }) });
    expect(second[0]!.id).toBe(updates.at(-1)!.id + 1);
    expect(second.filter((u) => u.type === "flow_start")).toHaveLength(1);
  });

  it("executeFlow without streaming waits for the result; getFlow, getFlowStatus, listFlows, deleteFlow", async () => {
    const flow = await client.createFlow(threadId, chain("echo", 2));
    const result = await client.executeFlow(flow.id, { input: "q", saveMessages: true });
    expect(result.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["s1", "success"],
      ["s2", "success"],
    ]);
    const stored = await client.getFlow(flow.id, "ignored");
    expect(stored).toMatchObject({ status: "completed", run: 1, result: { finalOutput: result.finalOutput } });
    expect(stored.stepResults?.map((s) => s.stepId)).toEqual(["s1", "s2"]);
    expect(await client.getFlowStatus(flow.id)).toMatchObject({
      flowId: flow.id,
      status: "completed",
      progress: 100,
      totalSteps: 2,
      completedSteps: 2,
      failedSteps: 0,
    });
    const saved = (await client.listMessages(threadId)).filter((m) => m.metadata?.orchestrationFlowId === flow.id);
    expect(saved.map((m) => m.metadata?.stepId)).toEqual(["s1", "s2"]);

    const page = await client.listFlows(threadId, "ignored", {
      status: "completed",
      sortBy: "createdAt",
      sortOrder: "DESC",
      limit: 1,
    });
    expect(page.items).toHaveLength(1);
    expect(page.total).toBeGreaterThanOrEqual(2);
    expect(page.items[0]!.id).toBe(flow.id);

    await client.deleteFlow(flow.id);
    await expect(client.getFlow(flow.id)).rejects.toMatchObject({
      name: "EnsembleApiError",
      status: 404,
      code: "not_found",
    });
  });

  it("executeFlow with an idempotencyKey: the same call again returns the first run's result and starts nothing", async () => {
    const flow = await client.createFlow(threadId, chain("echo", 1));
    const first = await client.executeFlow(flow.id, { input: "once", idempotencyKey: `sdk-${flow.id}` });
    const again = await client.executeFlow(flow.id, { input: "once", idempotencyKey: `sdk-${flow.id}` });
    expect(again).toEqual(first);
    expect((await client.getFlow(flow.id)) as unknown as { run: number }).toMatchObject({ run: 1 });
  });

  it("rerun, listRuns, getRun, compare: a rerun from a step reuses what comes before it and waits for its end", async () => {
    const flow = await client.createFlow(threadId, chain("echo", 3));
    await client.executeFlow(flow.id, { input: "q" });
    const events: string[] = [];
    const rerun = await client.rerun(flow.id, 1, {
      fromStep: "s3",
      overrides: { s3: { prompt: "changed: {{ original }}" } },
      onUpdate: (u) => events.push(`${u.type}${u.stepId ? `:${u.stepId}` : ""}`),
    });
    expect(rerun).toMatchObject({ run: 2, status: "completed", rerunOf: { run: 1, fromStep: "s3" } });
    expect(rerun.steps.map((s) => [s.stepId, s.reusedFrom ?? null])).toEqual([
      ["s1", 1],
      ["s2", 1],
      ["s3", null],
    ]);
    expect(rerun.finalOutput).toContain("changed: q");
    // The reused steps are announced after flow_start; only s3 starts.
    expect(events.filter((e) => e.startsWith("step_start"))).toEqual(["step_start:s3"]);
    expect(events.slice(0, 3)).toEqual(["flow_start", "step_complete:s1", "step_complete:s2"]);
    expect((await client.listRuns(flow.id)).map((r) => [r.run, r.rerunOf])).toEqual([
      [1, null],
      [2, { run: 1, fromStep: "s3" }],
    ]);
    const source = await client.getRun(flow.id, 1);
    expect(source.finalOutput).toContain("part 3: q");
    expect(source.finalOutput).not.toContain("changed");
    const comparison = await client.compare(flow.id, 1, 2);
    expect(comparison.steps.map((s) => s.diff.some((d) => d.kind !== "same"))).toEqual([false, false, true]);
  });

  it("a failed run rejects with FlowExecutionError carrying the partial result", async () => {
    const flow = await client.createFlow(threadId, {
      name: "fails",
      type: "sequential",
      steps: [
        { id: "ok", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
        {
          id: "broken",
          provider: "sim",
          model: "fail?times=9&code=bad_request",
          action: "generate",
          prompt: "{{ previous }}",
        },
      ],
    });
    const error = await client.executeFlow(flow.id, { input: "x", streaming: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowExecutionError);
    const failure = error as FlowExecutionError;
    expect(failure.status).toBe("failed");
    expect(failure.result.steps.find((s) => s.stepId === "ok")).toMatchObject({ status: "success", output: "echo: x" });
    expect(failure.result.steps.find((s) => s.stepId === "broken")).toMatchObject({
      status: "failed",
      error: expect.objectContaining({ code: "bad_request" }),
    });
  });

  it("cancelFlow stops a running flow; the waiting executeFlow rejects with status cancelled; deleting while running is a conflict", async () => {
    const flow = await client.createFlow(threadId, chain("hang", 1));
    const execution = client.executeFlow(flow.id, { input: "x", onUpdate: () => undefined }).catch((e: unknown) => e);
    const deadline = Date.now() + 10_000;
    while ((await client.getFlowStatus(flow.id)).status !== "running" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await expect(client.deleteFlow(flow.id)).rejects.toMatchObject({ status: 409, code: "conflict" });
    await client.cancelFlow(flow.id, "ignored");
    const error = await execution;
    expect(error).toBeInstanceOf(FlowExecutionError);
    expect((error as FlowExecutionError).status).toBe("cancelled");
  });

  it("approve and listApprovals: executeFlow resolves once a waiting approval step is approved", async () => {
    const flow = await client.createFlow(threadId, {
      name: "approved",
      type: "sequential",
      steps: [
        { id: "draft", provider: "sim", model: "echo", action: "generate", prompt: "draft: {{ original }}" },
        { kind: "approval", id: "review", prompt: "OK? {{ steps.draft.output }}", responseSchema: { type: "object" } },
      ],
    });
    const execution = client.executeFlow(flow.id, { input: "x", onUpdate: () => undefined });
    let waiting = await client.listApprovals();
    for (const deadline = Date.now() + 10_000; !waiting.some((a) => a.flowId === flow.id) && Date.now() < deadline;)
      waiting = await new Promise((r) => setTimeout(r, 50)).then(() => client.listApprovals());
    expect(waiting.find((a) => a.flowId === flow.id)).toMatchObject({ stepId: "review", prompt: "OK? echo: draft: x" });
    await expect(client.approve(flow.id, "review", { decision: "approve", data: [] })).rejects.toMatchObject({
      status: 400,
      code: "validation_error",
    });
    const decided = await client.approve(flow.id, "review", { decision: "approve", data: { ok: true } });
    expect(decided).toMatchObject({ flowId: flow.id, stepId: "review", decision: "approve", data: { ok: true } });
    const result = await execution;
    expect(result.status).toBe("completed");
    expect(JSON.parse(result.steps.find((s) => s.stepId === "review")!.output!)).toMatchObject({ decision: "approve" });
    await expect(client.approve(flow.id, "review", { decision: "reject" })).rejects.toMatchObject({
      status: 409,
      code: "conflict",
    });
  });

  it("executeStep runs one step alone and resolves with its result", async () => {
    const flow = await client.createFlow(threadId, chain("echo", 3));
    // The positional order: (flowId, stepId, userId, input).
    const step = await client.executeStep(flow.id, "s2", "ignored-user", "only this");
    expect(step).toMatchObject({ stepId: "s2", status: "success", output: "echo: part 2: only this" });
    const viaEvents: FlowStreamUpdate[] = [];
    const again = await client.executeStep(flow.id, "s1", { input: "streamed", onUpdate: (u) => viaEvents.push(u) });
    expect(again).toMatchObject({ stepId: "s1", output: "echo: part 1: streamed" });
    expect(viaEvents.filter((u) => u.type === "step_complete").map((u) => u.stepId)).toEqual(["s1"]);
  });

  it("streamEvents: the whole history of an ended flow, then the iteration ends; resume after an id", async () => {
    const flow = await client.createFlow(threadId, chain("echo", 2));
    await client.executeFlow(flow.id, { input: "h" });
    const all: FlowStreamUpdate[] = [];
    for await (const event of client.streamEvents(flow.id)) all.push(event);
    expect(all[0]!.type).toBe("flow_start");
    expect(all.at(-1)!.type).toBe("flow_complete");
    const rest: FlowStreamUpdate[] = [];
    for await (const event of client.streamEvents(flow.id, { lastEventId: 2 })) rest.push(event);
    expect(rest).toEqual(all.slice(2));
  });

  it("typed errors carry the API's status, code and details", async () => {
    const invalid = await client
      .createFlow(threadId, {
        name: "bad",
        type: "sequential",
        steps: [
          { id: "a", provider: "sim", model: "echo", action: "generate", prompt: "x", condition: "previous.contains(" },
        ],
      })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(EnsembleApiError);
    expect(invalid).toMatchObject({ status: 400, code: "validation_error" });
    expect((invalid as EnsembleApiError).details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "definition.steps[0].condition" })]),
    );
    await expect(client.getFlowStatus("no-such-flow")).rejects.toMatchObject({ status: 404, code: "not_found" });
    const stranger = new EnsembleClient({ baseUrl: cluster.baseUrl, apiKey: "ens_not_a_real_key_000000000" });
    await expect(stranger.createThread("x")).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    const iterate = async (): Promise<void> => {
      for await (const _ of stranger.streamEvents("whatever")) void _;
    };
    await expect(iterate()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("the seven templates: the SDK's builders (from @ensemble/core) match the server's catalog and validate there", async () => {
    const builders = {
      createCritiqueFlow,
      createComparisonFlow,
      createRefinementFlow,
      createSequentialAnalysisFlow,
      createConditionalRoutingFlow,
      createConsensusFlow,
      createQualityAssuranceFlow,
    };
    const served = await client.listTemplates();
    expect(served.map((t) => t.name).sort()).toEqual(Object.keys(builders).sort());
    for (const build of Object.values(builders)) {
      const flow = await client.createFlow(threadId, build());
      expect(flow.status).toBe("pending");
    }
    expect(await client.buildTemplate("createCritiqueFlow")).toEqual(createCritiqueFlow());
  });

  it("policies: setPolicy then listPolicies", async () => {
    await client.setPolicy("openai", {
      allowConversationHistory: false,
      allowCrossProviderContext: true,
      allowAttachments: false,
    });
    expect(await client.listPolicies()).toEqual(
      expect.arrayContaining([
        {
          providerKey: "openai",
          allowConversationHistory: false,
          allowCrossProviderContext: true,
          allowAttachments: false,
        },
      ]),
    );
  });
});
