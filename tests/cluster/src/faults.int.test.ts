import { readFileSync } from "node:fs";
import { listLedger, listMessages, listRunSteps, type StepResultRow } from "@ensemble/db";
import { ApiClient, simStep, type FlowBody } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";

const LEASE_MS = 2_000;

/** Fault tests: processes killed with SIGKILL mid-work, cancel mid-call, timeouts, provider failures. */
describe("faults across processes", () => {
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;
  const db = () => cluster.database!.handle.db;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 2, env: { STEP_LEASE_MS: String(LEASE_MS) } });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function waitForRow(
    flowId: string,
    predicate: (rows: StepResultRow[]) => StepResultRow | undefined,
    timeoutMs = 20_000,
  ): Promise<StepResultRow> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = predicate(await listRunSteps(db(), flowId, 1));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("step row not found in time");
  }

  /** kill -9 of the worker holding `running`'s lease, and a replacement worker started. */
  async function killLeaseHolder(running: StepResultRow): Promise<void> {
    const victim = cluster.byPid(Number(running.leaseOwner?.split(":")[1]));
    expect(victim?.role).toBe("worker");
    await cluster.kill9(victim!);
    cluster.spawn("worker", `worker-replacement-${Date.now()}`);
  }

  /** After a takeover of `running`'s step: every step succeeded, and its message and ledger row exist once each. */
  async function expectTakenOverOnce(flowId: string, running: StepResultRow, stepIds: string[]): Promise<void> {
    await api.waitForStatus(flowId, ["completed"], 30_000);
    const rows = await listRunSteps(db(), flowId, 1);
    expect(rows.map((r) => [r.stepId, r.status])).toEqual(stepIds.map((id) => [id, "success"]));
    const taken = rows.find((r) => r.stepId === running.stepId)!;
    expect(taken.leaseToken).toBeGreaterThanOrEqual(2); // taken over: the dead worker's token is fenced out
    expect(taken.leaseOwner).not.toBe(running.leaseOwner);
    const saved = (await listMessages(db(), threadId)).filter((m) => m.metadata.orchestrationFlowId === flowId);
    expect(saved.map((m) => m.metadata.stepId).sort()).toEqual([...stepIds].sort());
    const ledger = await listLedger(db(), flowId);
    expect(ledger.map((l) => `${l.stepResultId}#${l.attempt}`).sort()).toEqual(rows.map((r) => `${r.id}#0`).sort());
  }

  it("kill -9 of a worker inside a provider call: another worker finishes the step, effects written once", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "survive a crash",
      type: "sequential",
      steps: [simStep("slow", { model: "slow?latencyMs=4000" }), simStep("after")],
    });
    await api.execute(flowId, { input: "q", saveMessages: true });
    const running = await waitForRow(flowId, (rows) => rows.find((r) => r.stepId === "slow" && r.status === "running"));
    await killLeaseHolder(running);
    await expectTakenOverOnce(flowId, running, ["slow", "after"]);
  });

  it("kill -9 of a worker inside a step it leased from the step before (no job of its own): the run is repaired, effects written once", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "survive a crash in a continued step",
      type: "sequential",
      steps: [simStep("first"), simStep("slow", { model: "slow?latencyMs=4000" }), simStep("after")],
    });
    await api.execute(flowId, { input: "q", saveMessages: true });
    const running = await waitForRow(flowId, (rows) => rows.find((r) => r.stepId === "slow" && r.status === "running"));
    const first = (await listRunSteps(db(), flowId, 1)).find((r) => r.stepId === "first");
    // The worker that ran "first" leased "slow" in the same commit and runs it itself.
    expect(running.leaseOwner).toBe(first?.leaseOwner);
    expect(running.leaseToken).toBe(1);
    await killLeaseHolder(running);
    await expectTakenOverOnce(flowId, running, ["first", "slow", "after"]);
  });

  it("a worker stopped gracefully (SIGTERM) mid-step commits it and hands the run's next step to another worker", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "rolling deploy",
      type: "sequential",
      steps: [simStep("slow", { model: "slow?latencyMs=1500" }), simStep("after")],
    });
    await api.execute(flowId, { input: "q" });
    const running = await waitForRow(flowId, (rows) => rows.find((r) => r.stepId === "slow" && r.status === "running"));
    const stopping = cluster.byPid(Number(running.leaseOwner?.split(":")[1]))!;
    stopping.child.kill("SIGTERM");
    cluster.spawn("worker", `worker-replacement-${Date.now()}`);
    expect(await stopping.exited).toBe(0);

    await api.waitForStatus(flowId, ["completed"], 30_000);
    const rows = await listRunSteps(db(), flowId, 1);
    expect(rows.map((r) => [r.stepId, r.status, r.attempt])).toEqual([
      ["slow", "success", 0],
      ["after", "success", 0],
    ]);
    // "slow" was not taken over: the stopping worker finished it; "after" ran elsewhere.
    expect(rows[0]?.leaseOwner).toBe(running.leaseOwner);
    expect(rows[0]?.leaseToken).toBe(1);
    expect(rows[1]?.leaseOwner).not.toBe(running.leaseOwner);
  });

  it("a call longer than the lease keeps its lease by heartbeat: no takeover, one attempt", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "long call",
      type: "sequential",
      steps: [simStep("long", { model: `slow?latencyMs=${LEASE_MS * 2 + 500}` })],
    });
    const res = await api.execute(flowId, { input: "q" }, true);
    expect(res.body.status).toBe("completed");
    const [row] = await listRunSteps(db(), flowId, 1);
    expect(row).toMatchObject({ status: "success", leaseToken: 1, attempt: 0 });
  });

  it("kill -9 of the scheduler mid-run: the flow completes; a flow queued while it is down starts when it is back", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "scheduler crash",
      type: "sequential",
      steps: [
        simStep("a", { model: "slow?latencyMs=800" }),
        simStep("b", { model: "slow?latencyMs=800" }),
        simStep("c"),
      ],
    });
    await api.execute(flowId, { input: "q" });
    // Mid-run: a worker holds the first step. (Killed as soon as the flow reads "running",
    // the scheduler could die between its commit and enqueuing that step's job; the flow
    // then rightly waits for a scheduler to come back.)
    await waitForRow(flowId, (rows) => rows.find((r) => r.stepId === "a" && r.status === "running"));
    await cluster.kill9(cluster.byName("scheduler"));
    let restarted = false;
    try {
      await api.waitForStatus(flowId, ["completed"], 20_000);

      const queuedFlow = await api.createFlow(threadId, {
        name: "queued while down",
        type: "sequential",
        steps: [simStep("only")],
      });
      await api.execute(queuedFlow, { input: "q" });
      await new Promise((r) => setTimeout(r, 500));
      expect((await api.status(queuedFlow)).status).toBe("queued");
      cluster.spawn("scheduler", "scheduler");
      restarted = true;
      await api.waitForStatus(queuedFlow, ["completed"], 30_000);
    } finally {
      if (!restarted) cluster.spawn("scheduler", "scheduler"); // the tests after this one need it
    }
  });

  it("cancel mid-step: the provider call is aborted within 1 s and no later step starts", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "cancel me",
      type: "sequential",
      steps: [simStep("wait", { model: "hang" }), simStep("never")],
    });
    await api.execute(flowId, { input: "q" });
    const running = await waitForRow(flowId, (rows) => rows.find((r) => r.stepId === "wait" && r.status === "running"));
    const worker = cluster.byPid(Number(running.leaseOwner?.split(":")[1]))!;
    const requestedAt = Date.now();
    expect((await api.request("POST", `/v1/flows/${flowId}/cancel`)).status).toBe(202);
    await api.waitForStatus(flowId, ["cancelled"], 5_000);

    const abortLine = await waitForLogLine(worker.logFile, (l) => l.msg === "step call aborted" && l.flowId === flowId);
    expect(Number(abortLine.time) - requestedAt).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 500));
    const rows = await listRunSteps(db(), flowId, 1);
    expect(rows.find((r) => r.stepId === "wait")?.status).toBe("cancelled");
    expect(rows.find((r) => r.stepId === "never")?.startedAt ?? null).toBeNull();
  });

  it("a flow past maxExecutionTime ends timed_out and keeps its partial results", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "too slow",
      type: "sequential",
      maxExecutionTime: 1_500,
      steps: [simStep("quick"), simStep("stuck", { model: "hang" })],
    });
    const started = Date.now();
    await api.execute(flowId, { input: "q" });
    await api.waitForStatus(flowId, ["timed_out"], 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    const flow: FlowBody = await api.flow(flowId);
    expect(flow.error?.code).toBe("timed_out");
    expect(flow.stepResults.map((s) => [s.stepId, s.status])).toEqual([
      ["quick", "success"],
      ["stuck", "cancelled"],
    ]);
    expect(flow.stepResults[0]?.output).toContain("quick");
  });

  it("a step that fails once succeeds on retry", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "flaky",
      type: "sequential",
      steps: [
        simStep("flaky", { model: "fail?times=1&code=server_error", retryOnFailure: true, maxRetries: 2 }),
        simStep("next"),
      ],
    });
    const res = await api.execute(flowId, { input: "q" }, true);
    expect(res.body.status).toBe("completed");
    const steps = res.body.steps as { stepId: string; retryCount: number; status: string }[];
    expect(steps.find((s) => s.stepId === "flaky")).toMatchObject({ status: "success", retryCount: 1 });
  });

  it("a step whose retries run out fails the flow; earlier results are kept, later steps never run", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "broken",
      type: "sequential",
      steps: [
        simStep("fine"),
        simStep("broken", { model: "fail?times=9&code=server_error", retryOnFailure: true, maxRetries: 1 }),
        simStep("later"),
      ],
    });
    const res = await api.execute(flowId, { input: "q" }, true);
    expect(res.body.status).toBe("failed");
    expect(res.body.error).toMatchObject({ code: "server_error", stepId: "broken" });
    const steps = res.body.steps as { stepId: string; status: string; retryCount: number }[];
    expect(steps.map((s) => [s.stepId, s.status])).toEqual([
      ["fine", "success"],
      ["broken", "failed"],
      ["later", "cancelled"],
    ]);
    expect(steps[1]?.retryCount).toBe(1);
  });

  it("a non-retryable error fails at once, with the provider's message", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "bad request",
      type: "sequential",
      steps: [simStep("bad", { model: "fail?times=1&code=bad_request", retryOnFailure: true, maxRetries: 3 })],
    });
    const res = await api.execute(flowId, { input: "q" }, true);
    expect(res.body.status).toBe("failed");
    const steps = res.body.steps as { retryCount: number; error: { code: string } }[];
    expect(steps[0]).toMatchObject({ retryCount: 0, error: { code: "bad_request" } });
  });
});

async function waitForLogLine(
  file: string,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 5_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const text of readFileSync(file, "utf8").split("\n")) {
      if (!text.startsWith("{")) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      if (match(line)) return line;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no matching log line in ${file}`);
}
