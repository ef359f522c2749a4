import { listRunSteps } from "@ensemble/db";
import { createRedisConnection, jobIdFor, QUEUE_NAMES } from "@ensemble/queue";
import { ApiClient, simStep, type FlowBody } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, type Tenant } from "./tenants.js";

interface Approval {
  flowId: string;
  stepId: string;
  prompt: string;
  expiresAt: string | null;
}

/** Approval steps across real processes: a run waits for a person, holding no worker, and goes on once decided. */
describe("approval steps", () => {
  let cluster: Cluster;
  let api: ApiClient;
  let threadId: string;
  const db = () => cluster.database!.handle.db;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN, SWEEP_EVERY_MS: "1000" } });
    api = new ApiClient(cluster.baseUrl);
    threadId = await api.createThread();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const review = (extra: Record<string, unknown> = {}) => ({
    kind: "approval",
    id: "review",
    prompt: "Publish this draft?\n{{ steps.draft.output }}",
    ...extra,
  });

  /** draft → review (approval) → refine, which reads the decision. */
  async function startReviewedFlow(reviewExtra: Record<string, unknown> = {}, steps?: unknown[]): Promise<string> {
    const flowId = await api.createFlow(threadId, {
      name: "reviewed draft",
      type: "sequential",
      steps: steps ?? [
        simStep("draft"),
        review(reviewExtra),
        simStep("refine", { prompt: "refine with {{ steps.review.output }}" }),
      ],
    });
    const started = await api.execute(flowId, { input: "a launch note" });
    expect(started.status).toBe(202);
    await api.waitForStatus(flowId, ["waiting"], 30_000);
    return flowId;
  }

  async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !(await check());) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const approve = (flowId: string, body: Record<string, unknown>, client = api) =>
    client.request("POST", `/v1/flows/${flowId}/steps/review/approve`, body);

  const redisClient = () =>
    createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "approval-test",
    });

  /** The ids of the cluster's BullMQ jobs of a flow, by queue (read in Redis, as Bull Board would). */
  async function jobsOf(flowId: string): Promise<{ queue: string; id: string; delayed: boolean }[]> {
    const redis = redisClient();
    try {
      const found: { queue: string; id: string; delayed: boolean }[] = [];
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${cluster.prefix}:*:*${flowId}*`, "COUNT", 1000);
        cursor = next;
        for (const key of keys) {
          const [, queue, id] = key.split(":") as [string, string, string];
          if (id.includes(flowId) && (await redis.type(key)) === "hash") {
            const delayed = (await redis.zscore(`${cluster.prefix}:${queue}:delayed`, id)) !== null;
            found.push({ queue, id, delayed });
          }
        }
      } while (cursor !== "0");
      return found;
    } finally {
      await redis.quit();
    }
  }

  async function stepOf(flowId: string, stepId: string) {
    const flow = await api.flow(flowId);
    return flow.stepResults.find((s) => s.stepId === stepId);
  }

  it("waits with no lease and no job, lists the rendered prompt, then approve runs the rest with the decision", async () => {
    const flowId = await startReviewedFlow({
      responseSchema: {
        type: "object",
        properties: { score: { type: "number", minimum: 0, maximum: 10 } },
        required: ["score"],
      },
    });
    const waiting = (await listRunSteps(db(), flowId, 1)).find((r) => r.stepId === "review")!;
    expect(waiting).toMatchObject({ status: "waiting", leaseOwner: null, leaseToken: 0, leaseExpiresAt: null });
    expect(await stepOf(flowId, "refine")).toBeUndefined();
    // No step job for it on any queue: only its timeout, delayed on the flows queue.
    const jobs = await jobsOf(flowId);
    expect(jobs.filter((j) => j.id.includes("_review_"))).toEqual([]);
    const timeoutJob = jobIdFor("flow.approval-timeout", { flowId, run: 1, stepId: "review", iteration: 0 });
    expect(jobs).toContainEqual({ queue: QUEUE_NAMES.flows, id: timeoutJob, delayed: true });

    const listed = await api.request<{ items: Approval[] }>("GET", "/v1/approvals?status=waiting");
    const mine = listed.body.items.find((a) => a.flowId === flowId)!;
    expect(mine.stepId).toBe("review");
    expect(mine.prompt).toContain("Publish this draft?");
    expect(mine.prompt).toContain("a launch note"); // the draft's output (sim echoes its prompt)
    expect(Date.parse(mine.expiresAt!) - Date.now()).toBeGreaterThan(23 * 3600_000); // default: 24 h

    const bad = await approve(flowId, { decision: "approve", data: { score: 42 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("data.score");
    expect((await api.status(flowId)).status).toBe("waiting");

    const decided = await approve(flowId, { decision: "approve", data: { score: 9 }, comment: "ship it" });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ decision: "approve", data: { score: 9 }, comment: "ship it" });
    await api.waitForStatus(flowId, ["completed"], 30_000);
    const review = await stepOf(flowId, "review");
    expect(JSON.parse(review!.output!)).toMatchObject({ decision: "approve", data: { score: 9 }, comment: "ship it" });
    expect((await stepOf(flowId, "refine"))?.output).toContain('"decision":"approve"');
    const events = await api.eventHistory(flowId);
    const waitEvent = events.find((e) => e.type === "step_waiting");
    expect(waitEvent).toMatchObject({ stepId: "review", data: { prompt: mine.prompt, expiresAt: mine.expiresAt } });

    const again = await approve(flowId, { decision: "reject" });
    expect(again.status).toBe(409);
    expect((await api.request<{ items: Approval[] }>("GET", "/v1/approvals")).body.items).not.toContainEqual(
      expect.objectContaining({ flowId }),
    );
  });

  it("an unhandled reject ends the run failed with code rejected, keeping the results so far", async () => {
    const flowId = await startReviewedFlow();
    expect((await approve(flowId, { decision: "reject", comment: "not yet" })).status).toBe(200);
    await api.waitForStatus(flowId, ["failed"], 30_000);
    const flow: FlowBody = await api.flow(flowId);
    expect(flow.error).toMatchObject({ code: "rejected" });
    expect(flow.stepResults.find((s) => s.stepId === "draft")).toMatchObject({ status: "success" });
    const review = flow.stepResults.find((s) => s.stepId === "review")!;
    expect(review.status).toBe("failed");
    expect(JSON.parse(review.output!)).toMatchObject({ decision: "reject", comment: "not yet" });
    expect(flow.stepResults.find((s) => s.stepId === "refine")?.status ?? "cancelled").toBe("cancelled");
  });

  it("a reject that a condition reads takes the other branch", async () => {
    const flowId = await startReviewedFlow({}, [
      simStep("draft"),
      review(),
      simStep("publish", { dependsOn: ["review"], condition: 'steps.review.decision == "approve"' }),
      simStep("revise", { dependsOn: ["review"], condition: 'steps.review.decision == "reject"' }),
    ]);
    expect((await approve(flowId, { decision: "reject" })).status).toBe(200);
    await api.waitForStatus(flowId, ["completed"], 30_000);
    expect((await stepOf(flowId, "publish"))?.status).toBe("skipped");
    expect((await stepOf(flowId, "revise"))?.status).toBe("success");
  });

  it.each([
    ["reject", "failed"],
    ["approve", "completed"],
  ])("times out by its onTimeout %s (the run ends %s)", async (onTimeout, ended) => {
    const flowId = await startReviewedFlow({ timeout: 1_500, onTimeout });
    await api.waitForStatus(flowId, [ended], 30_000);
    const review = await stepOf(flowId, "review");
    expect(JSON.parse(review!.output!)).toMatchObject({ decision: onTimeout, decidedBy: null });
    expect((await approve(flowId, { decision: "approve" })).status).toBe(409);
  });

  it("in a loop, a person accepts or sends back each draft (until reads the decision)", async () => {
    const flowId = await api.createFlow(threadId, {
      name: "accept each draft",
      type: "sequential",
      steps: [
        simStep("write"),
        { kind: "approval", id: "accept", prompt: "Accept draft {{ iteration }}? {{ previous }}" },
      ],
      loop: { steps: ["write", "accept"], until: 'steps.accept.decision == "approve"', maxIterations: 3 },
    });
    await api.execute(flowId, { input: "a haiku" });
    await api.waitForStatus(flowId, ["waiting"], 30_000);
    const first = (await api.request<{ items: Approval[] }>("GET", "/v1/approvals")).body.items.find(
      (a) => a.flowId === flowId,
    );
    expect(first?.prompt).toMatch(/^Accept draft 1\? /);
    expect((await api.request("POST", `/v1/flows/${flowId}/steps/accept/approve`, { decision: "reject" })).status).toBe(
      200,
    );
    await waitFor(async () =>
      (await listRunSteps(db(), flowId, 1)).some(
        (r) => r.stepId === "accept" && r.iteration === 2 && r.status === "waiting",
      ),
    );
    expect((await api.status(flowId)).status).toBe("waiting");
    expect(
      (await api.request("POST", `/v1/flows/${flowId}/steps/accept/approve`, { decision: "approve" })).status,
    ).toBe(200);
    await api.waitForStatus(flowId, ["completed"], 30_000);
    const rows = await listRunSteps(db(), flowId, 1);
    expect(rows.map((r) => [r.stepId, r.iteration, r.status])).toEqual([
      ["write", 1, "success"],
      ["accept", 1, "success"],
      ["write", 2, "success"],
      ["accept", 2, "success"],
    ]);
  });

  it("a lost timeout job: the sweeper re-sends it, and the step is decided once", async () => {
    const flowId = await startReviewedFlow({ timeout: 1_500, onTimeout: "approve" });
    const timeoutJob = jobIdFor("flow.approval-timeout", { flowId, run: 1, stepId: "review", iteration: 0 });
    const redis = redisClient();
    try {
      // As if Redis had lost it: the job and its place among the delayed ones.
      await redis.del(`${cluster.prefix}:${QUEUE_NAMES.flows}:${timeoutJob}`);
      await redis.zrem(`${cluster.prefix}:${QUEUE_NAMES.flows}:delayed`, timeoutJob);
    } finally {
      await redis.quit();
    }
    expect((await jobsOf(flowId)).some((j) => j.id === timeoutJob)).toBe(false);
    await api.waitForStatus(flowId, ["completed"], 30_000);
    expect(JSON.parse((await stepOf(flowId, "review"))!.output!)).toMatchObject({
      decision: "approve",
      decidedBy: null,
    });
    const decisions = (await api.eventHistory(flowId)).filter(
      (e) => e.stepId === "review" && (e.type === "step_complete" || e.type === "error"),
    );
    expect(decisions).toHaveLength(1);
  });

  it("cancel ends a waiting run; a decision after it is a conflict", async () => {
    const flowId = await startReviewedFlow();
    expect((await api.request("POST", `/v1/flows/${flowId}/cancel`)).status).toBe(202);
    await api.waitForStatus(flowId, ["cancelled"], 30_000);
    expect((await stepOf(flowId, "review"))?.status).toBe("cancelled");
    expect((await approve(flowId, { decision: "approve" })).status).toBe(409);
  });

  it("of 20 concurrent decisions exactly one wins", async () => {
    const flowId = await startReviewedFlow();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        approve(flowId, { decision: i % 2 === 0 ? "approve" : "reject", comment: `decider ${i}` }),
      ),
    );
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(19);
    await api.waitForStatus(flowId, ["completed", "failed"], 30_000);
    const review = await stepOf(flowId, "review");
    expect(JSON.parse(review!.output!)).toMatchObject({ comment: won[0]!.body.comment });
  });

  describe("tenants", () => {
    let stranger: Tenant;
    let reader: Tenant;

    beforeAll(async () => {
      stranger = await createTenant(cluster.baseUrl, "stranger");
      reader = await createTenant(cluster.baseUrl, "reader");
      const added = await api.request("PUT", `/v1/threads/${threadId}/members/${reader.userId}`, {
        permissions: ["read"],
      });
      expect(added.status).toBe(200);
    });

    it("another user's approve is 404 and a read-only member's is 403; neither sees it listed", async () => {
      const flowId = await startReviewedFlow();
      const asStranger = new ApiClient(cluster.baseUrl, stranger.key);
      const asReader = new ApiClient(cluster.baseUrl, reader.key);
      expect((await approve(flowId, { decision: "approve" }, asStranger)).status).toBe(404);
      const refused = await approve(flowId, { decision: "approve" }, asReader);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: { code: "forbidden" } });
      for (const client of [asStranger, asReader]) {
        const listed = await client.request<{ items: Approval[] }>("GET", "/v1/approvals");
        expect(listed.body.items.some((a) => a.flowId === flowId)).toBe(false);
      }
      expect((await api.status(flowId)).status).toBe("waiting");
      expect((await approve(flowId, { decision: "approve" })).status).toBe(200);
      await api.waitForStatus(flowId, ["completed"], 30_000);
    });
  });

  it("survives kill -9 of every process while waiting: after a restart, approve still works", async () => {
    const flowId = await startReviewedFlow();
    const running = cluster.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    await Promise.all(running.map((p) => cluster.kill9(p)));
    cluster.spawn("api", `api-restarted-${Date.now()}`);
    cluster.spawn("scheduler", `scheduler-restarted-${Date.now()}`);
    cluster.spawn("worker", `worker-restarted-${Date.now()}`);
    await cluster.waitReady();
    expect((await api.status(flowId)).status).toBe("waiting");
    expect((await approve(flowId, { decision: "approve" })).status).toBe(200);
    await api.waitForStatus(flowId, ["completed"], 30_000);
    expect((await stepOf(flowId, "refine"))?.status).toBe("success");
  });
});
