import { sql } from "drizzle-orm";
import type { DatabaseHandle } from "../src/client.js";
import * as repo from "../src/index.js";

/** The same repository behaviour, asserted on both drivers (postgres.js and PGlite). */
export function describeRepositoryContract(getHandle: () => DatabaseHandle): void {
  const db = () => getHandle().db;

  async function seedFlow() {
    const user = await repo.insertUser(db(), { name: "ada" });
    const thread = await repo.insertThread(db(), { ownerId: user.id, title: "t" });
    const flow = await repo.insertFlow(db(), {
      threadId: thread.id,
      userId: user.id,
      name: "f",
      flowType: "sequential",
      definition: { name: "f" },
      description: null,
    });
    return { user, thread, flow };
  }

  const instance = (flowId: string, stepId = "a", iteration = 0) => ({
    flowId,
    run: 1,
    stepId,
    stepIndex: 0,
    iteration,
    status: "pending" as const,
    provider: "sim",
    model: "echo",
    action: "generate" as const,
  });

  it("finds a user by an active key hash, not by a revoked one", async () => {
    const user = await repo.insertUser(db(), { name: "key owner" });
    const key = await repo.insertApiKey(db(), { userId: user.id, keyHash: `h-${user.id}`, prefix: "ens_abc" });
    expect(await repo.findUserByKeyHash(db(), `h-${user.id}`)).toEqual({ userId: user.id, keyId: key.id });
    await repo.revokeApiKey(db(), key.id);
    expect(await repo.findUserByKeyHash(db(), `h-${user.id}`)).toBeUndefined();
  });

  it("takes text with NUL as a parameter, in and out of a transaction: a lookup finds nothing, a write stores U+FFFD", async () => {
    const { thread } = await seedFlow();
    expect(await repo.findFlow(db(), "no\u0000such")).toBeUndefined();
    expect(await getHandle().transact((tx) => repo.lockFlow(tx, "no\u0000such"))).toBeUndefined();
    const message = await getHandle().transact((tx) =>
      repo.insertMessage(tx, { threadId: thread.id, role: "user", content: "a\u0000b" }),
    );
    expect(message?.content).toBe("a\uFFFDb");
  });

  it("gives the owner every permission, a member what was granted, others none", async () => {
    const { thread, user } = await seedFlow();
    const other = await repo.insertUser(db(), { name: "bob" });
    expect(await repo.threadPermissions(db(), thread.id, user.id)).toEqual(["read", "write", "delete"]);
    expect(await repo.threadPermissions(db(), thread.id, other.id)).toEqual([]);
    await repo.upsertThreadMember(db(), { threadId: thread.id, userId: other.id, permissions: ["read"] });
    expect(await repo.threadPermissions(db(), thread.id, other.id)).toEqual(["read"]);
    await repo.upsertThreadMember(db(), { threadId: thread.id, userId: other.id, permissions: ["read", "write"] });
    expect(await repo.threadPermissions(db(), thread.id, other.id)).toEqual(["read", "write"]);
  });

  it("lists a thread's flows with filters, sorting and paging", async () => {
    const { thread, user } = await seedFlow();
    for (const name of ["b", "c", "a"]) {
      await repo.insertFlow(db(), {
        threadId: thread.id,
        userId: user.id,
        name,
        flowType: "parallel",
        definition: {},
        description: null,
      });
    }
    const page = await repo.listFlows(db(), thread.id, {
      type: "parallel",
      sortBy: "name",
      sortOrder: "ASC",
      limit: 2,
      offset: 1,
    });
    expect(page.total).toBe(3);
    expect(page.items.map((f) => f.name)).toEqual(["b", "c"]);
  });

  it("records a step instance once, whatever is redelivered", async () => {
    const { flow } = await seedFlow();
    const first = await repo.insertStepInstances(db(), [instance(flow.id)]);
    const again = await repo.insertStepInstances(db(), [instance(flow.id)]);
    expect(first).toHaveLength(1);
    expect(again).toHaveLength(0);
    expect(await repo.listRunSteps(db(), flow.id, 1)).toHaveLength(1);
  });

  it("fences step leases: a taken-over worker cannot commit; the result, its ledger row and its message are written once", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running", saveMessages: true });
    await repo.insertStepInstances(db(), [instance(flow.id)]);
    const key = { flowId: flow.id, run: 1, stepId: "a", iteration: 0, attempt: 0 };
    const a = await repo.claimStepWithContext(db(), { ...key, owner: "worker-a", leaseMs: 60_000 });
    expect(a?.claimed).toMatchObject({ status: "running", leaseToken: 1, leaseOwner: "worker-a" });
    expect(a?.flow).toMatchObject({ id: flow.id, status: "running" });
    expect(a?.rows.map((r) => [r.stepId, r.status])).toEqual([["a", "running"]]);
    expect(await repo.claimStepWithContext(db(), { ...key, owner: "worker-b", leaseMs: 60_000 })).toBeUndefined();
    // worker-a's lease runs out (it stalled); worker-b takes over with a new token.
    await db().execute(
      sql`update step_results set lease_expires_at = now() - interval '1 second' where id = ${a?.claimed.id}`,
    );
    const b = await repo.claimStepWithContext(db(), { ...key, owner: "worker-b", leaseMs: 60_000 });
    expect(b?.claimed).toMatchObject({ leaseToken: 2, leaseOwner: "worker-b" });
    // Renewing both holders' leases in one batch: only the current token's is extended.
    const leaseOf = (claim: typeof a) => ({
      id: claim?.claimed.id as string,
      leaseToken: claim?.claimed.leaseToken ?? -1,
    });
    expect(await repo.renewStepLeases(db(), [leaseOf(a)], 60_000)).toEqual(new Set());
    expect(await repo.renewStepLeases(db(), [leaseOf(a), leaseOf(b)], 600_000)).toEqual(new Set([b?.claimed.id]));
    const renewed = await repo.findStepInstance(db(), { ...key, run: 1 });
    expect(renewed?.leaseExpiresAt?.getTime()).toBeGreaterThan(Date.now() + 500_000);

    const outcome = {
      id: a?.claimed.id as string,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      status: "success" as const,
      output: "ok",
      provider: "sim",
      model: "echo",
      // 1,000 prompt tokens: 100 plain, 600 read from the cache, 300 written to it (100 as 1-hour entries).
      usage: {
        promptTokens: 1000,
        completionTokens: 2,
        totalTokens: 1002,
        cachedTokens: 600,
        cacheWriteTokens: 300,
        cacheWrite1hTokens: 100,
      },
      cost: 0.5,
      error: null,
    };
    const finish = (leaseToken: number) =>
      getHandle().transact((tx) => repo.finishStepWrites(tx, { ...outcome, leaseToken }));
    expect(await finish(1)).toBeUndefined();
    const done = await finish(2);
    expect(done?.rows.map((r) => [r.stepId, r.status, r.output])).toEqual([["a", "success", "ok"]]);
    expect(await finish(2)).toBeUndefined();

    expect(
      (await repo.listLedger(db(), flow.id)).map((l) => [
        l.attempt,
        l.promptTokens,
        l.cachedTokens,
        l.cacheWriteTokens,
        l.cacheWrite1hTokens,
        l.cost,
      ]),
    ).toEqual([[0, 1000, 600, 300, 100, 0.5]]);
    const saved = (await repo.listMessages(db(), flow.threadId)).filter((m) => m.stepResultId === a?.claimed.id);
    expect(saved.map((m) => [m.content, m.metadata.orchestrationFlowId, m.metadata.stepId])).toEqual([
      ["ok", flow.id, "a"],
    ]);
    expect(await repo.findStepInstance(db(), { ...key, run: 1 })).toMatchObject({ spentTokens: 1002, spentCost: 0.5 });
  });

  it("ends a step alone (no flow lock): once per lease, its spend on the instance, the flow's totals at the run's next locked write", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running", saveMessages: true });
    await repo.insertStepInstances(db(), [instance(flow.id, "a"), { ...instance(flow.id, "b"), stepIndex: 1 }]);
    const claim = (stepId: string) =>
      repo.claimStepWithContext(db(), {
        flowId: flow.id,
        run: 1,
        stepId,
        iteration: 0,
        attempt: 0,
        owner: "w",
        leaseMs: 60_000,
      });
    const a = await claim("a");
    const b = await claim("b");
    const end = (claimed: NonNullable<typeof a>["claimed"], totalTokens: number, cost: number) => ({
      id: claimed.id,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      leaseToken: claimed.leaseToken,
      status: "success" as const,
      output: `out ${claimed.stepId}`,
      provider: "sim",
      model: "echo",
      usage: { promptTokens: 1, completionTokens: totalTokens - 1, totalTokens },
      cost,
      error: null,
    });
    const endA = end(a?.claimed as NonNullable<typeof a>["claimed"], 3, 0.25);
    expect(await repo.endStepWrites(db(), { ...endA, leaseToken: 99 })).toBeUndefined();
    expect(await repo.endStepWrites(db(), endA)).toMatchObject({ status: "success", spentTokens: 3, spentCost: 0.25 });
    expect(await repo.endStepWrites(db(), endA)).toBeUndefined();
    expect((await repo.listLedger(db(), flow.id)).map((l) => [l.stepResultId, l.cost])).toEqual([[endA.id, 0.25]]);
    expect((await repo.listMessages(db(), flow.threadId)).map((m) => m.content)).toEqual(["out a"]);
    // The flow row is not written: its totals are written when the run ends.
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ totalTokens: 0, totalCost: 0 });
    const [read, none] = await repo.readRuns(db(), [
      { flowId: flow.id, run: 1 },
      { flowId: "no such flow", run: 1 },
    ]);
    expect(none).toBeUndefined();
    expect(read?.rows.map((r) => [r.stepId, r.status])).toEqual([
      ["a", "success"],
      ["b", "running"],
    ]);
    // One claim of the advance per state of the run.
    expect(await repo.claimRunAdvance(db(), flow.id, 1, "state 1")).toBe(true);
    expect(await repo.claimRunAdvance(db(), flow.id, 1, "state 1")).toBe(false);
    expect(await repo.claimRunAdvance(db(), flow.id, 2, "state 2")).toBe(false); // not the flow's run
    expect(await repo.claimRunAdvance(db(), flow.id, 1, "state 2")).toBe(true);
    // The run's end sets the flow's totals to the whole run's spend.
    const endB = end(b?.claimed as NonNullable<typeof b>["claimed"], 5, 0.5);
    await getHandle().transact(async (tx, control) => {
      await repo.finishStepWrites(tx, endB);
      control.commitAfter(
        repo.sendRunEnded(tx, flow.id, {
          status: "completed",
          completedAt: new Date(),
          error: null,
          currentStepIndex: 1,
          result: {},
        }),
      );
    });
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ status: "completed", totalTokens: 8, totalCost: 0.75 });
  });

  it("takes the previous build's ledger write after migrating: old and new pods overlap during a rollout", async () => {
    const { flow, user } = await seedFlow();
    const [step] = await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
    // A step end's ledger insert as the build before cut_off_calls sends it, conflict target included.
    const previousBuildWrite = (id: string) =>
      db().execute(sql`
        insert into usage_ledger (id, step_result_id, attempt, flow_id, user_id, provider, model, prompt_tokens,
          completion_tokens, cached_tokens, reasoning_tokens, cost, cache_write_tokens, cache_write_1h_tokens)
        values (${id}, ${step!.id}, 0, ${flow.id}, ${user.id}, 'sim', 'echo', 3, 2, 0, 0, 0.5, 0, 0)
        on conflict (step_result_id, attempt) do nothing`);
    await previousBuildWrite(`${flow.id}-first`);
    await previousBuildWrite(`${flow.id}-again`);
    expect((await repo.listLedger(db(), flow.id)).map((l) => [l.id, l.attempt, l.cost])).toEqual([
      [`${flow.id}-first`, 0, 0.5],
    ]);
  });

  it("records a call cut off by a lost lease once per lease, beside the attempt's one committed row, in the run's totals before or after its end", async () => {
    const { flow, user } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
    await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
    const claimed = await repo.claimStepWithContext(db(), {
      flowId: flow.id,
      run: 1,
      stepId: "a",
      iteration: 0,
      attempt: 0,
      owner: "w",
      leaseMs: 60_000,
    });
    const lost = claimed?.claimed.leaseToken as number;
    const cutOff = (leaseToken: number, cost: number) => ({
      stepResultId: claimed?.claimed.id as string,
      attempt: 0,
      leaseToken,
      flowId: flow.id,
      run: 1,
      userId: user.id,
      provider: "sim",
      model: "echo",
      promptTokens: 10,
      completionTokens: 4,
      cost,
    });
    expect(await repo.recordCutOffCall(db(), cutOff(lost, 0.1))).toBe(true);
    expect(await repo.recordCutOffCall(db(), cutOff(lost, 0.1))).toBe(false);
    // While the run runs, its totals are its cut-off calls'.
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ totalTokens: 14, totalCost: 0.1 });
    // The new holder commits the attempt: its own row, next to the cut-off one.
    const end = {
      id: claimed?.claimed.id as string,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      leaseToken: lost + 1,
      status: "success" as const,
      output: "ok",
      provider: "sim",
      model: "echo",
      usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
      cost: 0.25,
      error: null,
    };
    await db().execute(sql`update step_results set lease_token = ${lost + 1} where id = ${end.id}`);
    await getHandle().transact(async (tx, control) => {
      await repo.finishStepWrites(tx, end);
      control.commitAfter(
        repo.sendRunEnded(tx, flow.id, {
          status: "completed",
          completedAt: new Date(),
          error: null,
          currentStepIndex: 1,
          result: {},
        }),
      );
    });
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ totalTokens: 17, totalCost: 0.35 });
    // A cut-off recorded after the run's end (its worker found out late) is added to it.
    expect(await repo.recordCutOffCall(db(), cutOff(lost + 1, 0.05))).toBe(true);
    const ended = await repo.findFlow(db(), flow.id);
    expect(ended).toMatchObject({ totalTokens: 31 });
    expect(ended?.totalCost).toBeCloseTo(0.4, 10);
    expect((await repo.listLedger(db(), flow.id)).map((l) => [l.attempt, l.cost])).toEqual([[0, 0.25]]);
    expect((await repo.listCutOffCalls(db(), flow.id)).map((c) => [c.attempt, c.leaseToken, c.cost])).toEqual([
      [0, lost, 0.1],
      [0, lost + 1, 0.05],
    ]);
    // Once the run is archived (a next run started), it goes to its flow_runs row.
    await getHandle().transact(async (tx, control) => {
      control.commitAfter(repo.sendArchivedRun(tx, flow.id));
    });
    await repo.updateFlow(db(), flow.id, { run: 2, status: "running", totalCost: 0, totalTokens: 0 });
    expect(await repo.recordCutOffCall(db(), cutOff(lost + 2, 0.5))).toBe(true);
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ run: 2, totalTokens: 0, totalCost: 0 });
    const archived = await repo.findFlowRun(db(), (await repo.findFlow(db(), flow.id))!, 1);
    expect(archived).toMatchObject({ totalTokens: 45 });
    expect(archived?.totalCost).toBeCloseTo(0.9, 10);
  });

  it("moves a failed attempt to the next one exactly once", async () => {
    const { flow } = await seedFlow();
    const [row] = await repo.insertStepInstances(db(), [{ ...instance(flow.id), status: "failed" }]);
    expect(await repo.requeueStepAttempt(db(), row?.id as string, 1, null)).toBe(true);
    expect(await repo.requeueStepAttempt(db(), row?.id as string, 1, null)).toBe(false);
  });

  it("serialises work on a flow with a row lock inside a transaction", async () => {
    const { flow } = await seedFlow();
    const seen = await db().transaction(async (tx) => {
      const locked = await repo.lockFlow(tx, flow.id);
      await repo.updateFlow(tx, flow.id, { status: "running", run: 1 });
      return locked?.status;
    });
    expect(seen).toBe("pending");
    expect((await repo.findFlow(db(), flow.id))?.status).toBe("running");
  });

  it("plans steps in one statement with the flow's progress, and COMMIT sent behind it keeps both; a redelivered plan inserts nothing", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "queued" });
    const startedAt = new Date("2026-01-02T03:04:05.678Z");
    const plan: repo.PlannedStep[] = [
      {
        stepId: "a",
        stepIndex: 0,
        iteration: 0,
        status: "pending",
        provider: "sim",
        model: "echo",
        action: "generate",
      },
      {
        stepId: "b",
        stepIndex: 1,
        iteration: 0,
        status: "skipped",
        provider: "sim",
        model: "echo",
        action: "generate",
        completedAt: startedAt,
        error: { code: "skipped", message: "no" },
      },
    ];
    const run = () =>
      getHandle().transact(async (tx, control) => {
        const locked = await repo.lockRun(tx, flow.id, 1);
        control.commitAfter(
          repo.sendPlannedSteps(tx, flow.id, 1, plan, { status: "running", startedAt, currentStepIndex: 1 }),
        );
        return locked;
      });
    expect((await run())?.rows).toEqual([]);
    const again = await run();
    expect(again?.flow).toMatchObject({ status: "running", startedAt, currentStepIndex: 1 });
    expect(again?.rows.map((r) => [r.stepId, r.status, r.completedAt, r.error])).toEqual([
      ["a", "pending", null, null],
      ["b", "skipped", startedAt, { code: "skipped", message: "no" }],
    ]);
    expect(await repo.listRunSteps(db(), flow.id, 1)).toHaveLength(2);
  });

  it("reads rows through the hot-path statements exactly as a typed select does (dates as Date, every column)", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, {
      run: 1,
      status: "running",
      startedAt: new Date("2026-01-02T03:04:05.678Z"),
    });
    await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
    const claim = await repo.claimStepWithContext(db(), {
      flowId: flow.id,
      run: 1,
      stepId: "a",
      iteration: 0,
      attempt: 0,
      owner: "w",
      leaseMs: 60_000,
    });
    const claimed = claim?.claimed as NonNullable<typeof claim>["claimed"];
    // A failed attempt waiting out its backoff: not_before is set (a date without "At" in its name).
    await getHandle().transact((tx) =>
      repo.finishStepWrites(tx, {
        id: claimed.id,
        flowId: flow.id,
        run: 1,
        attempt: 0,
        leaseToken: claimed.leaseToken,
        status: "failed",
        output: null,
        provider: "sim",
        model: "echo",
        usage: null,
        cost: null,
        error: { code: "provider_error", message: "503", retryable: true },
      }),
    );
    const notBefore = new Date(Date.now() + 60_000);
    expect(await repo.requeueStepAttempt(db(), claimed.id, 1, notBefore)).toBe(true);
    const locked = await getHandle().transact((tx) => repo.lockRun(tx, flow.id, 1));
    const [typedRow] = await repo.listRunSteps(db(), flow.id, 1);
    expect(locked?.rows).toEqual([typedRow]);
    expect(locked?.rows[0]?.notBefore).toEqual(notBefore);
    expect(locked?.flow).toEqual(await repo.findFlow(db(), flow.id));
  });

  it("rolls back and throws when a statement sent ahead of COMMIT fails", async () => {
    const { flow } = await seedFlow();
    const step: repo.PlannedStep = {
      stepId: "a",
      stepIndex: 0,
      iteration: 0,
      status: "pending",
      provider: "sim",
      model: "echo",
      action: "generate",
    };
    const failing = getHandle().transact(async (tx, control) => {
      control.commitAfter(repo.sendPlannedSteps(tx, flow.id, 1, [step], { currentStepIndex: 3 }));
      // provider is NOT NULL: this statement fails after the first one succeeded.
      control.commitAfter(
        repo.sendPlannedSteps(tx, flow.id, 1, [{ ...step, stepId: "b", provider: null as unknown as string }]),
      );
    });
    await expect(failing).rejects.toThrow();
    expect(await repo.listRunSteps(db(), flow.id, 1)).toEqual([]);
    expect((await repo.findFlow(db(), flow.id))?.currentStepIndex).toBe(0);
  });

  it("writes a plan made before the lock only if the run is as it saw it; otherwise nothing of the transaction is kept", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
    await repo.insertStepInstances(db(), [instance(flow.id, "a"), instance(flow.id, "x")]);
    const claim = await repo.claimStepWithContext(db(), {
      flowId: flow.id,
      run: 1,
      stepId: "a",
      iteration: 0,
      attempt: 0,
      owner: "w",
      leaseMs: 60_000,
    });
    const claimed = claim?.claimed as NonNullable<typeof claim>["claimed"];
    const finish = {
      id: claimed.id,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      leaseToken: claimed.leaseToken,
      status: "success" as const,
      output: "ok",
      provider: "sim",
      model: "echo",
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
      cost: null,
      error: null,
    };
    // As the plan saw the run: "a" finished by this attempt, "x" still pending.
    const seen = (claim?.rows ?? []).map((r) => (r.id === claimed.id ? { ...r, status: "success" } : r));
    const basis = {
      stepResultId: claimed.id,
      leaseToken: claimed.leaseToken,
      status: "success",
      signature: repo.runSignature(seen),
    };
    const next: repo.PlannedStep[] = [
      {
        stepId: "b",
        stepIndex: 1,
        iteration: 0,
        status: "pending",
        provider: "sim",
        model: "echo",
        action: "generate",
      },
    ];
    const attempt = () =>
      getHandle().transact(async (tx, control) => {
        control.commitAfter(
          repo.finishStepWrites(tx, finish),
          repo.sendGuardedPlan(tx, flow.id, 1, basis, next, { currentStepIndex: 1 }),
        );
      });
    const code = (error: unknown): unknown =>
      (error as { code?: unknown; cause?: { code?: unknown } }).code ??
      (error as { cause?: { code?: unknown } }).cause?.code;

    // Meanwhile "x" moved on: the plan is stale, and the result is not kept either.
    await db().execute(sql`update step_results set status = 'running' where flow_id = ${flow.id} and step_id = 'x'`);
    await expect(attempt().catch((error: unknown) => Promise.reject(new Error(String(code(error)))))).rejects.toThrow(
      repo.STALE_PLAN_SQLSTATE,
    );
    expect((await repo.listRunSteps(db(), flow.id, 1)).map((r) => [r.stepId, r.status]).sort()).toEqual([
      ["a", "running"],
      ["x", "running"],
    ]);

    await db().execute(sql`update step_results set status = 'pending' where flow_id = ${flow.id} and step_id = 'x'`);
    await attempt();
    expect((await repo.listRunSteps(db(), flow.id, 1)).map((r) => [r.stepId, r.status]).sort()).toEqual([
      ["a", "success"],
      ["b", "pending"],
      ["x", "pending"],
    ]);
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({ totalTokens: 0, currentStepIndex: 1 });
    // Again (a redelivery, the lease since ended): the guard fails, nothing is written twice.
    await expect(attempt()).rejects.toThrow();
    const after = await repo.listRunSteps(db(), flow.id, 1);
    expect(after).toHaveLength(3);
    expect(after.find((r) => r.stepId === "a")?.spentTokens).toBe(2);
  });

  it("writes several runs' ends with their plans in one statement, each only if its run is as its plan saw it", async () => {
    const runs = await Promise.all(
      [0, 1, 2].map(async () => {
        const { flow } = await seedFlow();
        await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
        await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
        const claim = await repo.claimStepWithContext(db(), {
          ...{ flowId: flow.id, run: 1, stepId: "a", iteration: 0, attempt: 0 },
          ...{ owner: "w", leaseMs: 60_000 },
        });
        if (!claim) throw new Error("not claimed");
        return claim;
      }),
    );
    const planned = (claim: repo.ClaimedStep, lease?: { owner: string; leaseMs: number }): repo.PlannedEnd => ({
      end: {
        ...{ id: claim.claimed.id, flowId: claim.flow.id, run: 1, attempt: 0, leaseToken: claim.claimed.leaseToken },
        ...{ status: "success", output: "ok", provider: "sim", model: "echo", cost: 0.5, error: null },
        usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
      },
      seenSignature: repo.runSignature(claim.rows),
      steps: [{ ...instance(claim.flow.id, "b"), stepIndex: 1, ...(lease ? { lease } : {}) }],
      progress: { currentStepIndex: 1 },
    });
    // The second run moved on since its claim (cancelled): its plan is stale.
    const [first, stale, leasing] = runs as [repo.ClaimedStep, repo.ClaimedStep, repo.ClaimedStep];
    await repo.cancelOpenSteps(db(), stale.flow.id, 1);
    const batch = [planned(first), planned(stale), planned(leasing, { owner: "w", leaseMs: 60_000 })];
    const send = () =>
      getHandle().transact(async (tx, control) => {
        const written = repo.sendPlannedEnds(tx, batch);
        control.commitAfter(written);
        return { written };
      });
    const results = await (await send()).written;
    expect(results.map((r) => r.written)).toEqual([true, false, true]);
    expect(results[2]).toMatchObject({ leased: { stepId: "b", status: "running", leaseOwner: "w", leaseToken: 1 } });
    const steps = async (flowId: string) =>
      (await repo.listRunSteps(db(), flowId, 1)).map((r) => [r.stepId, r.status, r.spentTokens]);
    expect(await steps(first.flow.id)).toEqual([
      ["a", "success", 2],
      ["b", "pending", 0],
    ]);
    expect(await steps(stale.flow.id)).toEqual([["a", "cancelled", 0]]);
    expect(await steps(leasing.flow.id)).toEqual([
      ["a", "success", 2],
      ["b", "running", 0],
    ]);
    expect(await repo.findFlow(db(), first.flow.id)).toMatchObject({ currentStepIndex: 1 });
    expect(await repo.findFlow(db(), stale.flow.id)).toMatchObject({ currentStepIndex: 0 });
    // Sent again (a redelivery): nothing is written twice.
    expect((await (await send()).written).map((r) => r.written)).toEqual([false, false, false]);
    const ledgers = await Promise.all(runs.map(async (r) => (await repo.listLedger(db(), r.flow.id)).length));
    expect(ledgers).toEqual([1, 0, 1]);
  });

  it("a guarded plan can lease a new instance to its worker: inserted running, returned with the owner's policies", async () => {
    const { flow, user } = await seedFlow();
    await repo.upsertPolicy(db(), {
      userId: user.id,
      providerKey: "openai",
      allowConversationHistory: false,
      allowCrossProviderContext: true,
      allowAttachments: true,
    });
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
    await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
    const claim = await repo.claimStepWithContext(db(), {
      flowId: flow.id,
      run: 1,
      stepId: "a",
      iteration: 0,
      attempt: 0,
      owner: "w",
      leaseMs: 60_000,
    });
    const claimed = claim?.claimed as NonNullable<typeof claim>["claimed"];
    const finish = {
      id: claimed.id,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      leaseToken: claimed.leaseToken,
      status: "success" as const,
      output: "ok",
      provider: "sim",
      model: "echo",
      usage: null,
      cost: null,
      error: null,
    };
    const seen = (claim?.rows ?? []).map((r) => (r.id === claimed.id ? { ...r, status: "success" } : r));
    const basis = {
      stepResultId: claimed.id,
      leaseToken: claimed.leaseToken,
      status: "success",
      signature: repo.runSignature(seen),
    };
    const next: repo.PlannedStep[] = [
      {
        stepId: "b",
        stepIndex: 1,
        iteration: 0,
        status: "pending",
        provider: "sim",
        model: "echo",
        action: "generate",
        lease: { owner: "w", leaseMs: 60_000 },
      },
      {
        stepId: "c",
        stepIndex: 2,
        iteration: 0,
        status: "pending",
        provider: "sim",
        model: "echo",
        action: "generate",
      },
    ];
    const written = await getHandle().transact(async (tx, control) => {
      const finished = repo.finishStepWrites(tx, finish); // sent first: the guard checks its result
      const guarded = repo.sendGuardedPlan(tx, flow.id, 1, basis, next);
      control.commitAfter(finished, guarded);
      return { guarded };
    });
    const { leased, inserted, policies } = await written.guarded;
    expect(leased).toMatchObject({ stepId: "b", status: "running", leaseToken: 1, leaseOwner: "w", attempt: 0 });
    expect(leased?.leaseExpiresAt?.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(inserted.map((r) => [r.stepId, r.status]).sort()).toEqual([
      ["b", "running"],
      ["c", "pending"],
    ]);
    expect(policies.map((p) => p.providerKey)).toEqual(["openai"]);
    expect((await repo.listRunSteps(db(), flow.id, 1)).map((r) => [r.stepId, r.status, r.leaseOwner])).toEqual([
      ["a", "success", "w"],
      ["b", "running", "w"],
      ["c", "pending", null],
    ]);

    // Finished by the worker it was leased to: its start becomes when the worker took it up.
    const lease = leased as NonNullable<typeof leased>;
    await getHandle().transact((tx) =>
      repo.finishStepWrites(tx, { ...finish, id: lease.id, leaseToken: 1, leasedRunningMs: 5_000 }),
    );
    const b = (await repo.listRunSteps(db(), flow.id, 1)).find((r) => r.stepId === "b");
    expect(b?.status).toBe("success");
    const ranMs = (b?.completedAt?.getTime() ?? 0) - (b?.startedAt?.getTime() ?? 0);
    expect(ranMs).toBeGreaterThanOrEqual(4_990);
    expect(ranMs).toBeLessThan(6_000);
  });

  it("locks a flow to execute with the owner's and the executor's policies and last archived event, then queues the new run with COMMIT", async () => {
    const { flow, user } = await seedFlow();
    const [executor, bystander] = [
      await repo.insertUser(db(), { name: "bob" }),
      await repo.insertUser(db(), { name: "eve" }),
    ];
    await repo.upsertPolicy(db(), {
      userId: user.id,
      providerKey: "openai",
      allowConversationHistory: false,
      allowCrossProviderContext: true,
      allowAttachments: true,
    });
    await repo.upsertPolicy(db(), {
      userId: executor.id,
      providerKey: "openai",
      allowConversationHistory: true,
      allowCrossProviderContext: false,
      allowAttachments: true,
    });
    await repo.upsertPolicy(db(), {
      userId: bystander.id,
      providerKey: "google",
      allowConversationHistory: false,
      allowCrossProviderContext: false,
      allowAttachments: false,
    });
    await repo.insertFlowEvents(db(), [
      { flowId: flow.id, seq: 7, type: "flow_start", stepId: null, data: null, createdAt: new Date() },
    ]);
    await repo.updateFlow(db(), flow.id, {
      status: "completed",
      run: 2,
      totalTokens: 9,
      result: { finalOutput: "old" },
    });
    const queuedAt = new Date("2026-03-04T05:06:07.089Z");
    const locked = await getHandle().transact(async (tx, control) => {
      const read = await repo.lockFlowToExecute(tx, flow.id, executor.id);
      control.commitAfter(
        repo.sendQueuedRun(tx, flow.id, {
          run: 3,
          executedBy: executor.id,
          onlyStepId: "a",
          input: "in",
          metadata: { k: 1 },
          saveMessages: true,
          stepTimeoutMs: 5,
          deadlineAt: null,
          queuedAt,
          priority: "low",
        }),
      );
      return read;
    });
    expect(locked?.flow).toMatchObject({ id: flow.id, status: "completed", run: 2 });
    expect(locked?.policies.map((p) => [p.userId, p.providerKey, p.allowConversationHistory]).sort()).toEqual(
      [
        [user.id, "openai", false],
        [executor.id, "openai", true],
      ].sort(),
    );
    expect(locked?.lastArchivedEventId).toBe(7);
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({
      status: "queued",
      run: 3,
      executedBy: executor.id,
      onlyStepId: "a",
      input: "in",
      metadata: { k: 1 },
      saveMessages: true,
      stepTimeoutMs: 5,
      queuedAt,
      priority: "low",
      totalTokens: 0,
      result: null,
      startedAt: null,
    });
    expect(await getHandle().transact((tx) => repo.lockFlowToExecute(tx, "no such flow", user.id))).toBeUndefined();
  });

  it("keeps the run a new one replaces in the run history, with its definition; a run taken back leaves no trace", async () => {
    const { flow, user } = await seedFlow();
    await repo.updateFlow(db(), flow.id, {
      status: "completed",
      run: 1,
      input: "first",
      totalCost: 0.5,
      totalTokens: 9,
      result: { finalOutput: "one" },
    });
    const before = (await repo.findFlow(db(), flow.id))!;
    const rerunDefinition = { name: "f", steps: [{ id: "a", model: "other" }] };
    const queue = () =>
      getHandle().transact(async (tx, control) => {
        await repo.lockFlowToExecute(tx, flow.id, user.id);
        await repo.insertStepInstances(tx, [{ ...instance(flow.id), run: 2, status: "success", reusedFrom: 1 }]);
        control.commitAfter(
          repo.sendArchivedRun(tx, flow.id),
          repo.sendQueuedRun(tx, flow.id, {
            run: 2,
            executedBy: user.id,
            onlyStepId: null,
            input: "second",
            metadata: {},
            saveMessages: false,
            stepTimeoutMs: null,
            deadlineAt: null,
            queuedAt: new Date(),
            priority: "high",
            rerun: { of: 1, fromStep: "b", definition: rerunDefinition },
          }),
        );
      });
    await queue();
    const current = (await repo.findFlow(db(), flow.id))!;
    expect(current).toMatchObject({
      run: 2,
      priority: "high",
      rerunOf: 1,
      rerunFromStep: "b",
      runDefinition: rerunDefinition,
    });
    const runs = await repo.listFlowRuns(db(), current);
    expect(runs.map((r) => [r.run, r.status, r.totalCost, r.rerunOf])).toEqual([
      [1, "completed", 0.5, null],
      [2, "queued", 0, 1],
    ]);
    expect(await repo.findFlowRun(db(), current, 1)).toMatchObject({
      input: "first",
      definition: { name: "f" },
      result: { finalOutput: "one" },
    });
    expect(await repo.findFlowRun(db(), current, 2)).toMatchObject({ input: "second", definition: rerunDefinition });
    expect(await repo.findFlowRun(db(), current, 3)).toBeUndefined();

    // A call of run 1 cut off by a lost lease, recorded meanwhile, goes to its archived copy.
    const [run1Step] = await repo.insertStepInstances(db(), [{ ...instance(flow.id, "z"), status: "success" }]);
    await repo.recordCutOffCall(db(), {
      stepResultId: run1Step?.id as string,
      attempt: 0,
      leaseToken: 1,
      flowId: flow.id,
      run: 1,
      userId: user.id,
      provider: "sim",
      model: "echo",
      promptTokens: 2,
      completionTokens: 1,
      cost: 0.25,
    });

    // Not enqueued: taken back, the flow is as it was, run 1 is current again (with its cut-off call), run 2's rows are gone.
    expect(await repo.undoQueuedRun(db(), before, 2)).toBe(true);
    const restored = (await repo.findFlow(db(), flow.id))!;
    expect(restored).toMatchObject({
      run: 1,
      totalCost: 0.75,
      totalTokens: 12,
      status: "completed",
      priority: "normal",
      rerunOf: null,
      runDefinition: null,
    });
    expect((await repo.listFlowRuns(db(), restored)).map((r) => [r.run, r.status])).toEqual([[1, "completed"]]);
    expect(await repo.listRunSteps(db(), flow.id, 2)).toEqual([]);
    // Queued again, it archives run 1 anew.
    await queue();
    expect((await repo.listFlowRuns(db(), (await repo.findFlow(db(), flow.id))!)).map((r) => r.run)).toEqual([1, 2]);
  });

  it("records the end of a run with COMMIT", async () => {
    const { flow } = await seedFlow();
    const startedAt = new Date("2026-01-01T00:00:00.001Z");
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running", startedAt });
    const completedAt = new Date("2026-01-01T00:00:01.234Z");
    await getHandle().transact(async (tx, control) => {
      control.commitAfter(
        repo.sendRunEnded(tx, flow.id, {
          status: "failed",
          completedAt,
          error: { code: "boom", message: "no", stepId: "a" },
          currentStepIndex: 2,
          result: { finalOutput: null },
        }),
      );
    });
    expect(await repo.findFlow(db(), flow.id)).toMatchObject({
      status: "failed",
      startedAt,
      completedAt,
      error: { code: "boom", message: "no", stepId: "a" },
      currentStepIndex: 2,
      result: { finalOutput: null },
    });
  });

  it("cancels a run's open steps and returns them", async () => {
    const { flow } = await seedFlow();
    await repo.insertStepInstances(db(), [instance(flow.id, "a"), { ...instance(flow.id, "b"), status: "success" }]);
    const cancelled = await repo.cancelOpenSteps(db(), flow.id, 1);
    expect(cancelled.map((r) => r.stepId)).toEqual(["a"]);
  });

  it("plans an approval step waiting with its prompt and expiry; one decision wins, the others find nothing waiting", async () => {
    const { flow, user, thread } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
    const expiresAt = new Date(Date.now() + 60_000);
    const review: repo.PlannedStep = {
      ...instance(flow.id, "review"),
      status: "waiting",
      provider: "",
      model: "",
      action: "validate",
      wait: { prompt: "Publish?", expiresAt },
    };
    await getHandle().transact(async (tx, control) => {
      control.commitAfter(repo.sendPlannedSteps(tx, flow.id, 1, [review], { status: "waiting" }));
    });
    const [row] = await repo.listRunSteps(db(), flow.id, 1);
    expect(row).toMatchObject({ status: "waiting", approvalPrompt: "Publish?", expiresAt, leaseOwner: null });
    expect((await repo.findFlow(db(), flow.id))?.status).toBe("waiting");

    const member = await repo.insertUser(db(), { name: "reader" });
    await repo.upsertThreadMember(db(), { threadId: thread.id, userId: member.id, permissions: ["read"] });
    expect((await repo.listWaitingApprovals(db(), user.id, 10)).map((a) => [a.flowId, a.stepId, a.prompt])).toEqual([
      [flow.id, "review", "Publish?"],
    ]);
    expect(await repo.listWaitingApprovals(db(), member.id, 10)).toEqual([]); // read only: not theirs to decide
    expect(await repo.listExpiredApprovals(db())).not.toContainEqual(expect.objectContaining({ id: row!.id }));

    const decisions = await Promise.all(
      ["approve", "reject", "approve"].map((decision) =>
        repo.decideWaitingStep(db(), row!.id, { status: "success", output: decision, error: null }),
      ),
    );
    expect(decisions.filter((d) => d !== null)).toHaveLength(1);
    const [decided] = await repo.listRunSteps(db(), flow.id, 1);
    expect(decided).toMatchObject({ status: "success", output: decisions.find((d) => d)!.output });
    expect(decided!.completedAt).not.toBeNull();
    expect(await repo.listWaitingApprovals(db(), user.id, 10)).toEqual([]);
  });

  it("archives events idempotently and reads them after a sequence number", async () => {
    const { flow } = await seedFlow();
    const rows = [1, 2, 3].map((seq) => ({
      flowId: flow.id,
      seq,
      type: "step_start" as const,
      stepId: "a",
      data: { n: seq },
      createdAt: new Date(),
    }));
    await repo.insertFlowEvents(db(), rows);
    await repo.insertFlowEvents(db(), rows);
    expect((await repo.listFlowEvents(db(), flow.id, 1)).map((e) => e.seq)).toEqual([2, 3]);
  });

  it("writes outbox events in order with the flow's earlier rows, an end's event only if that transaction wrote the end; relays and deletes them", async () => {
    const { flow } = await seedFlow();
    await repo.updateFlow(db(), flow.id, { run: 1, status: "running" });
    await repo.insertStepInstances(db(), [instance(flow.id, "a")]);
    const a = await repo.claimStepWithContext(db(), {
      flowId: flow.id,
      run: 1,
      stepId: "a",
      iteration: 0,
      attempt: 0,
      owner: "w",
      leaseMs: 60_000,
    });
    const claimed = a?.claimed as NonNullable<typeof a>["claimed"];
    const event = (key: string, extra: Partial<repo.OutboxEventInput> = {}): repo.OutboxEventInput => ({
      key,
      flowId: flow.id,
      type: "step_complete",
      stepId: "a",
      data: { key },
      ...extra,
    });
    const first = await getHandle().transact((tx) =>
      repo.sendOutboxEvents(tx, [event("k1", { type: "flow_start", stepId: null }), event("k2")]),
    );
    expect(first).toEqual([
      { key: "k1", before: [] },
      { key: "k2", before: [] },
    ]);
    const end = {
      id: claimed.id,
      flowId: flow.id,
      run: 1,
      attempt: 0,
      leaseToken: claimed.leaseToken,
      status: "success" as const,
      output: "ok",
      provider: "sim",
      model: "echo",
      usage: null,
      cost: null,
      error: null,
    };
    const ifWritten = { stepResultId: claimed.id };
    // The end is written in this transaction: its event goes with it, after the rows before it.
    const second = await getHandle().transact(async (tx) => {
      await repo.endStepWrites(tx, end);
      return repo.sendOutboxEvents(tx, [event("k3", { ifWritten })]);
    });
    const [k1, k2] = (await repo.listOutboxKeys(db(), [flow.id])).map((r) => r.id);
    expect(second).toEqual([
      {
        key: "k3",
        before: [
          { id: k1, key: "k1" },
          { id: k2, key: "k2" },
        ],
      },
    ]);
    // Ended already (nothing written now): no event.
    const third = await getHandle().transact(async (tx) => {
      await repo.endStepWrites(tx, end);
      return repo.sendOutboxEvents(tx, [event("k4", { ifWritten })]);
    });
    expect(third).toEqual([]);
    const rows = await repo.listOutboxKeys(db(), [flow.id]);
    expect(rows.map((r) => r.key)).toEqual(["k1", "k2", "k3"]);
    const full = await repo.listOutboxEvents(
      db(),
      rows.map((r) => r.id),
    );
    expect(full.map((r) => [r.key, r.type, r.stepId, r.data])).toEqual([
      ["k1", "flow_start", null, { key: "k1" }],
      ["k2", "step_complete", "a", { key: "k2" }],
      ["k3", "step_complete", "a", { key: "k3" }],
    ]);
    expect(full[0]?.createdAt).toBeInstanceOf(Date);
    expect(await repo.listOutboxFlows(db(), 60_000, 10)).not.toContainEqual(
      expect.objectContaining({ flowId: flow.id }),
    );
    expect(await repo.listOutboxFlows(db(), -60_000, 1_000)).toContainEqual({ flowId: flow.id, status: "running" });
    await repo.deleteOutboxEvents(db(), [{ flowId: flow.id, upToId: rows[1]?.id ?? 0 }]);
    expect((await repo.listOutboxKeys(db(), [flow.id])).map((r) => r.key)).toEqual(["k3"]);
  });
}
