import { randomUUID } from "node:crypto";
import { claimStepWithContext, insertThread, insertUser, type ClaimedStep } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import type { BulkJob } from "@ensemble/queue";
import pino from "pino";
import postgres from "postgres";
import {
  cancelRun,
  createEngine,
  createFlow,
  executeFlow,
  startRun,
  type Engine,
  type EngineDeps,
} from "../src/index.js";
import { finishStep } from "../src/step/finish-step.js";
import { PlannedEndCommitter } from "../src/step/planned-end-committer.js";
import { StepEndCommitter } from "../src/step/step-end-committer.js";
import type { StepOutcome } from "../src/step/step-outcome.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const LEASE_MS = 30_000;

/**
 * Finishing a step, in this process against real Postgres and Redis (no scheduler or worker
 * runs: each test claims and finishes steps itself, as a worker would, and reads what was
 * committed and which jobs were sent).
 */
describe("finishing a step (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;
  let deps: EngineDeps;
  let sql: postgres.Sql;
  let leaveCatalog: () => Promise<void>;
  /** Every job the engine sent, in order (to the real queues as well). */
  const sentJobs: BulkJob[] = [];
  let executorId: string;
  let threadId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: `test-${randomUUID().slice(0, 8)}`,
      logger: pino({ level: "silent" }),
      migrate: true,
    });
    const real = engine.deps.producer;
    const producer = new Proxy(real, {
      get(target, property) {
        if (property === "addBulk") {
          return (jobs: readonly BulkJob[]) => {
            sentJobs.push(...jobs);
            return target.addBulk(jobs);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    deps = { ...engine.deps, producer };
    const membership = await deps.providerCatalog.join(deps.workerId, [{ key: "sim", models: null, limits: {} }]);
    leaveCatalog = () => membership.leave();
    const user = await insertUser(deps.db, { name: "finisher" });
    executorId = user.id;
    threadId = (await insertThread(deps.db, { ownerId: user.id, title: "finish" })).id;
  });

  afterAll(async () => {
    await leaveCatalog();
    await engine.close();
    await sql.end();
    await database.drop();
  });

  /** A flow executed and started (its first steps recorded, their jobs sent). */
  async function startedRun(definition: object): Promise<{ flowId: string; run: number }> {
    const flow = await createFlow(deps, { threadId, userId: executorId, definition });
    const { run } = await executeFlow(deps, flow.id, { executedBy: executorId, input: "in", saveMessages: true });
    await startRun(deps, flow.id, run);
    return { flowId: flow.id, run };
  }

  async function claim(flowId: string, run: number, stepId: string): Promise<ClaimedStep> {
    const claimed = await claimStepWithContext(deps.leaseDb, {
      flowId,
      run,
      stepId,
      iteration: 0,
      attempt: 0,
      owner: deps.workerId,
      leaseMs: LEASE_MS,
    });
    if (!claimed) throw new Error(`${stepId} could not be claimed`);
    return claimed;
  }

  const answer = (stepId: string): StepOutcome & { status: "success" } => ({
    status: "success",
    output: `out ${stepId}`,
    provider: "sim",
    model: "echo",
    usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    cost: 0.001,
  });

  /** Finishes a claimed step as the worker does: planned from the state it was claimed in. */
  const finish = (step: ClaimedStep, options: Parameters<typeof finishStep>[3] = {}) =>
    finishStep(deps, step.claimed, answer(step.claimed.stepId), {
      claimedWith: { flow: step.flow, rows: step.rows },
      ...options,
    });

  async function instances(flowId: string): Promise<{ stepId: string; status: string }[]> {
    return sql<{ stepId: string; status: string }[]>`
      select step_id as "stepId", status from step_results where flow_id = ${flowId} order by step_index, step_id`;
  }

  async function counts(flowId: string): Promise<{ ledger: number; messages: number }> {
    const [row] = await sql<{ ledger: number; messages: number }[]>`
      select (select count(*)::int from usage_ledger where flow_id = ${flowId}) as ledger,
             (select count(*)::int from messages m join step_results s on s.id = m.step_result_id
               where s.flow_id = ${flowId}) as messages`;
    return row as { ledger: number; messages: number };
  }

  /** The flow's durable step-end events in the outbox (no scheduler archives them here), in order. */
  async function stepEndEvents(flowId: string): Promise<string[]> {
    const rows = await sql<{ type: string; stepId: string }[]>`
      select type, step_id as "stepId" from flow_event_outbox
      where flow_id = ${flowId} and type in ('step_complete', 'step_failed') order by id`;
    return rows.map((r) => `${r.type}:${r.stepId}`);
  }

  /** The flow's run-end events in the outbox (none archived here). */
  async function runEndEvents(flowId: string): Promise<string[]> {
    const rows = await sql<{ type: string }[]>`
      select type from flow_event_outbox where flow_id = ${flowId} and type in ('flow_complete', 'flow_failed') order by id`;
    return rows.map((r) => r.type);
  }

  /**
   * Each step's times in the run's stored result are those of its instance as written, and
   * the run ended as its last step did (not before).
   */
  async function expectResultTimesAsWritten(flowId: string): Promise<void> {
    const [row] = await sql<
      {
        completedAt: Date;
        result: { completedAt: string; steps: { stepId: string; startedAt: string; completedAt: string }[] };
      }[]
    >`select completed_at as "completedAt", result from flows where id = ${flowId}`;
    const written = await sql<{ stepId: string; startedAt: Date; completedAt: Date }[]>`
      select step_id as "stepId", started_at as "startedAt", completed_at as "completedAt"
      from step_results where flow_id = ${flowId} order by step_index`;
    expect(row?.result.steps.map((st) => [st.stepId, st.startedAt, st.completedAt])).toEqual(
      written.map((w) => [w.stepId, w.startedAt.toISOString(), w.completedAt.toISOString()]),
    );
    const lastStepEnd = Math.max(...written.map((w) => w.completedAt.getTime()));
    expect(row?.completedAt.getTime()).toBeGreaterThanOrEqual(lastStepEnd);
    expect(row?.result.completedAt).toBe(row?.completedAt.toISOString());
  }

  async function flowRow(flowId: string) {
    const [row] = await sql<{ status: string; totalTokens: string; result: { finalOutput: string | null } | null }[]>`
      select status, total_tokens as "totalTokens", result from flows where id = ${flowId}`;
    return row;
  }

  const stepJobs = (flowId: string, stepId: string) =>
    sentJobs.filter((j) => j.name === "step.run" && j.payload.flowId === flowId && j.payload.stepId === stepId);

  /** p then r, with q beside them: p's plan from its claim is stale once q has ended. */
  const P_THEN_R = {
    name: "p then r",
    type: "parallel",
    steps: [
      { id: "p", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
      { id: "q", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
      { id: "r", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}", dependsOn: ["p"] },
    ],
  };

  /** After q, then p, ended: p's end planned r under the lock (a job of its own, no continued step), each end once. */
  async function expectPlannedUnderLock(flowId: string): Promise<void> {
    expect(await instances(flowId)).toEqual([
      { stepId: "p", status: "success" },
      { stepId: "q", status: "success" },
      { stepId: "r", status: "pending" },
    ]);
    expect(stepJobs(flowId, "r")).toHaveLength(1);
    expect(await counts(flowId)).toEqual({ ledger: 2, messages: 2 });
  }

  it("one round trip: a sequential step commits with its next step leased to this worker, which continues with it", async () => {
    const { flowId, run } = await startedRun({
      name: "two steps",
      type: "sequential",
      steps: [
        { id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
        { id: "b", provider: "sim", model: "echo", action: "generate", prompt: "{{ previous }}" },
      ],
    });
    const a = await claim(flowId, run, "a");
    const first = await finish(a, { continueAs: { owner: deps.workerId, leaseMs: LEASE_MS } });
    if (!first.committed || !first.next) throw new Error("expected a continued step");
    await first.effectsSent;
    // b was inserted already leased to this worker: it has no job of its own.
    expect(first.next.claimed).toMatchObject({ stepId: "b", status: "running", leaseOwner: deps.workerId });
    expect(stepJobs(flowId, "b")).toHaveLength(0);
    expect(await instances(flowId)).toEqual([
      { stepId: "a", status: "success" },
      { stepId: "b", status: "running" },
    ]);

    // The continued step: its end is the run's end.
    const second = await finish(first.next, { leasedRunningMs: 5 });
    expect(second).toEqual({ committed: true });
    expect(await flowRow(flowId)).toMatchObject({
      status: "completed",
      totalTokens: "6",
      result: { finalOutput: "out b" },
    });
    expect(await counts(flowId)).toEqual({ ledger: 2, messages: 2 });
  });

  it("under the lock: when the run changed since the claim, the guarded plan is rolled back and made again under the flow's lock", async () => {
    const { flowId, run } = await startedRun(P_THEN_R);
    const p = await claim(flowId, run, "p");
    const q = await claim(flowId, run, "q");
    // q ends first (nothing waits for q alone); p's claim still shows q running.
    expect(await finish(q)).toEqual({ committed: true });
    expect(await finish(p)).toEqual({ committed: true });
    await expectPlannedUnderLock(flowId);
  });

  it("siblings ending together commit without the flow's row lock, and exactly one of them advances the run", async () => {
    const siblings = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const { flowId, run } = await startedRun({
      name: "fan-in",
      type: "parallel",
      steps: [
        ...siblings.map((id) => ({ id, provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" })),
        { id: "all", provider: "sim", model: "echo", action: "summarize", prompt: "all", aggregate: true },
      ],
    });
    const claimed = await Promise.all(siblings.map((id) => claim(flowId, run, id)));

    // Someone holds the flow's row lock while the siblings end: their ends still commit.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked: () => void = () => undefined;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holder = sql.begin(async (tx) => {
      await tx`select id from flows where id = ${flowId} for update`;
      locked();
      await released;
    });
    await lockHeld;
    const finishing = Promise.all(claimed.map((step) => finish(step)));
    await waitFor(async () => {
      const rows = await instances(flowId);
      return rows.filter((r) => r.status === "success").length === siblings.length ? rows : undefined;
    });
    expect(await counts(flowId)).toEqual({ ledger: 10, messages: 10 });
    release();
    await holder;
    expect(await finishing).toEqual(siblings.map(() => ({ committed: true })));

    expect((await instances(flowId)).filter((r) => r.stepId === "all")).toEqual([{ stepId: "all", status: "pending" }]);
    expect(stepJobs(flowId, "all")).toHaveLength(1);

    // The aggregate ends the run, with the totals of all eleven.
    const all = await claim(flowId, run, "all");
    expect(await finish(all)).toEqual({ committed: true });
    expect(await flowRow(flowId)).toMatchObject({ status: "completed", totalTokens: "33" });
    expect(await counts(flowId)).toEqual({ ledger: 11, messages: 11 });
  });

  it("continued steps after a fan-in: the sibling that advances the run goes on with the aggregate itself", async () => {
    const siblings = ["s0", "s1", "s2"];
    const { flowId, run } = await startedRun({
      name: "fan-in, continued",
      type: "parallel",
      steps: [
        ...siblings.map((id) => ({ id, provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" })),
        { id: "all", provider: "sim", model: "echo", action: "summarize", prompt: "all", aggregate: true },
      ],
    });
    const claimed = await Promise.all(siblings.map((id) => claim(flowId, run, id)));
    const continueAs = { owner: deps.workerId, leaseMs: LEASE_MS };
    const results = await Promise.all(claimed.map((step) => finish(step, { continueAs })));
    const continued = results.flatMap((r) => (r.committed && r.next ? [r] : []));
    expect(results.every((r) => r.committed)).toBe(true);
    expect(continued).toHaveLength(1);
    const [advancer] = continued;
    if (!advancer?.next) throw new Error("expected one continued step");
    await advancer.effectsSent;
    expect(advancer.next.claimed).toMatchObject({ stepId: "all", status: "running", leaseOwner: deps.workerId });
    expect(stepJobs(flowId, "all")).toHaveLength(0);
    expect(await finish(advancer.next, { leasedRunningMs: 1 })).toEqual({ committed: true });
    expect(await flowRow(flowId)).toMatchObject({ status: "completed", totalTokens: "12" });
  });

  it("group commit: ends that arrive together share one transaction; an end that fails fails alone", async () => {
    const { flowId, run } = await startedRun({
      name: "batch",
      type: "parallel",
      steps: ["p", "q", "r"].map((id) => ({
        id,
        provider: "sim",
        model: "echo",
        action: "generate",
        prompt: "{{ original }}",
      })),
    });
    const [p, q, r] = await Promise.all(["p", "q", "r"].map((id) => claim(flowId, run, id)));
    let transactions = 0;
    const committer = new StepEndCommitter({
      db: deps.db,
      transact: (fn) => {
        transactions += 1;
        return deps.transact(fn);
      },
    });
    const end = (step: ClaimedStep | undefined, status: string) => {
      const claimed = step?.claimed as ClaimedStep["claimed"];
      return committer.end(
        {
          id: claimed.id,
          flowId,
          run,
          attempt: 0,
          leaseToken: claimed.leaseToken,
          status: status as "success",
          output: "ok",
          provider: "sim",
          model: "echo",
          usage: null,
          cost: null,
          error: null,
        },
        [
          {
            flowId,
            type: "step_skipped",
            stepId: claimed.stepId,
            data: { iteration: 0, reason: status },
            ifWritten: { stepResultId: claimed.id },
          },
        ],
      );
    };
    const [endedP, endedQ] = await Promise.all([end(p, "success"), end(q, "success")]);
    expect(transactions).toBe(1);
    expect(endedP.done?.status).toBe("success");
    // Both ends read their run once, after the commit: it shows both.
    expect(endedP.run).toBe(endedQ.run);
    expect(endedP.run?.state.rows.map((row) => [row.stepId, row.status])).toEqual([
      ["p", "success"],
      ["q", "success"],
      ["r", "running"],
    ]);
    // A status the table refuses fails its own end; the others in the batch commit.
    const [bad, stale] = await Promise.allSettled([end(r, "no such status"), end(p, "success")]);
    expect(bad.status).toBe("rejected");
    expect(stale).toMatchObject({ status: "fulfilled", value: { done: undefined } }); // p already ended
    expect(await instances(flowId)).toEqual([
      { stepId: "p", status: "success" },
      { stepId: "q", status: "success" },
      { stepId: "r", status: "running" },
    ]);
    // Each end's event is in the outbox with it, once: not for the refused end, nor the stale one.
    const outbox = await sql`
      select step_id from flow_event_outbox where flow_id = ${flowId} and type = 'step_skipped' order by id`;
    expect([...outbox]).toEqual([{ step_id: "p" }, { step_id: "q" }]);
  });

  const threeSteps = {
    name: "three steps",
    type: "sequential",
    steps: ["a", "b", "c"].map((id) => ({
      id,
      provider: "sim",
      model: "echo",
      action: "generate",
      prompt: "{{ previous }}",
    })),
  };
  /** Engine deps whose planned ends go through a committer of their own, counting its transactions. */
  function countingPlannedEnds(): { deps: EngineDeps; transactions: () => number } {
    let transactions = 0;
    const plannedEnds = new PlannedEndCommitter({
      transact: (fn) => {
        transactions += 1;
        return deps.transact(fn);
      },
      logger: deps.logger,
    });
    return { deps: { ...deps, plannedEnds }, transactions: () => transactions };
  }

  /** Finishes claimed steps together, in one turn of the event loop (the spend-cap lookup cached first). */
  async function finishTogether(
    on: EngineDeps,
    steps: readonly ClaimedStep[],
    outcome: (step: ClaimedStep) => StepOutcome & { status: "success" } = (step) => answer(step.claimed.stepId),
  ) {
    await on.spendCaps.reached(executorId, { cachedLimits: true });
    return Promise.allSettled(
      steps.map((step) =>
        finishStep(on, step.claimed, outcome(step), {
          claimedWith: { flow: step.flow, rows: step.rows },
          continueAs: { owner: on.workerId, leaseMs: LEASE_MS },
        }),
      ),
    );
  }

  it("group commit across runs: many sequential runs' ends and next steps share one transaction, and every run completes once", async () => {
    const runs = await Promise.all(Array.from({ length: 12 }, () => startedRun(threeSteps)));
    const batching = countingPlannedEnds();
    let steps = await Promise.all(runs.map(({ flowId, run }) => claim(flowId, run, "a")));
    for (const stepId of ["b", "c"]) {
      const before = batching.transactions();
      const ended = await finishTogether(batching.deps, steps);
      // All twelve ends, with their runs' next steps, in one transaction.
      expect(batching.transactions() - before).toBe(1);
      const continued = ended.map((result) => {
        if (result.status !== "fulfilled" || !result.value.committed || !result.value.next)
          throw new Error(`expected ${stepId} leased to this worker`);
        expect(result.value.next.claimed).toMatchObject({ stepId, status: "running", leaseOwner: deps.workerId });
        return result.value;
      });
      await Promise.all(continued.map((c) => c.effectsSent));
      steps = continued.map((c) => c.next);
    }
    // The last steps end the runs: their ends and the runs' ends share one transaction too.
    const before = batching.transactions();
    const last = await finishTogether(batching.deps, steps);
    expect(batching.transactions() - before).toBe(1);
    expect(last.map((r) => r.status === "fulfilled" && r.value)).toEqual(runs.map(() => ({ committed: true })));
    for (const { flowId } of runs) {
      expect(await flowRow(flowId)).toMatchObject({
        status: "completed",
        totalTokens: "9",
        result: { finalOutput: "out c" },
      });
      await expectResultTimesAsWritten(flowId);
      expect(await runEndEvents(flowId)).toEqual(["flow_complete"]);
      expect(await counts(flowId)).toEqual({ ledger: 3, messages: 3 });
      expect(await instances(flowId)).toEqual(["a", "b", "c"].map((stepId) => ({ stepId, status: "success" })));
      // Continued steps need no job.
      expect(sentJobs.filter((j) => j.name === "step.run" && j.payload.flowId === flowId)).toHaveLength(1);
      // Each end's event was written with it, once, in order.
      expect(await stepEndEvents(flowId)).toEqual(["step_complete:a", "step_complete:b", "step_complete:c"]);
    }
  });

  it("group commit across runs: a stale plan in a batch writes nothing of its own and is planned again under the lock; the others commit", async () => {
    const sequential = await Promise.all(Array.from({ length: 4 }, () => startedRun(threeSteps)));
    const { flowId, run } = await startedRun(P_THEN_R);
    const p = await claim(flowId, run, "p");
    const q = await claim(flowId, run, "q");
    const firsts = await Promise.all(sequential.map((r) => claim(r.flowId, r.run, "a")));
    // q ends first: p's plan (made from its claim, q still running) is stale.
    expect(await finish(q)).toEqual({ committed: true });
    const batching = countingPlannedEnds();
    const ended = await finishTogether(batching.deps, [firsts[0], p, ...firsts.slice(1)] as ClaimedStep[]);
    expect(batching.transactions()).toBe(1);
    const [first, endedP, ...rest] = ended.map((r) => (r.status === "fulfilled" ? r.value : r.reason));
    expect(endedP).toEqual({ committed: true });
    await expectPlannedUnderLock(flowId);
    // The stale end's events were not written by the batch, only by the commit under the lock.
    expect(await stepEndEvents(flowId)).toEqual(["step_complete:q", "step_complete:p"]);
    for (const [i, result] of [first, ...rest].entries()) {
      expect(result).toMatchObject({ committed: true, next: { claimed: { stepId: "b", status: "running" } } });
      expect(await counts(sequential[i]?.flowId ?? "")).toEqual({ ledger: 1, messages: 1 });
    }
  });

  it("group commit across runs: when the batch fails, each end is written on its own, and the end that broke it fails alone", async () => {
    const runs = await Promise.all(Array.from({ length: 3 }, () => startedRun(threeSteps)));
    const steps = await Promise.all(runs.map(({ flowId, run }) => claim(flowId, run, "a")));
    const batching = countingPlannedEnds();
    // Postgres refuses the second run's usage (out of an integer's range): the batch's statement fails.
    const broken = steps[1]?.claimed.id;
    const ended = await finishTogether(batching.deps, steps, (step) => {
      const ok = answer(step.claimed.stepId);
      return step.claimed.id === broken
        ? { ...ok, usage: { promptTokens: 3e9, completionTokens: 1, totalTokens: 3e9 } }
        : ok;
    });
    expect(batching.transactions()).toBe(1);
    expect(ended[0]).toMatchObject({
      status: "fulfilled",
      value: { committed: true, next: { claimed: { stepId: "b" } } },
    });
    expect(ended[1]).toMatchObject({ status: "rejected", reason: { code: "22003" } });
    expect(ended[2]).toMatchObject({
      status: "fulfilled",
      value: { committed: true, next: { claimed: { stepId: "b" } } },
    });
    expect(await counts(runs[0]?.flowId ?? "")).toEqual({ ledger: 1, messages: 1 });
    expect(await counts(runs[2]?.flowId ?? "")).toEqual({ ledger: 1, messages: 1 });
    // The broken end wrote nothing: its step is still running under its lease, and can still end.
    expect(await counts(runs[1]?.flowId ?? "")).toEqual({ ledger: 0, messages: 0 });
    expect(await instances(runs[1]?.flowId ?? "")).toEqual([{ stepId: "a", status: "running" }]);
    expect(await stepEndEvents(runs[1]?.flowId ?? "")).toEqual([]);
    for (const i of [0, 2]) expect(await stepEndEvents(runs[i]?.flowId ?? "")).toEqual(["step_complete:a"]);
    expect(await finish(steps[1] as ClaimedStep)).toMatchObject({ committed: true });
  });

  const oneStep = {
    name: "one step",
    type: "sequential",
    steps: [{ id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
  };

  it("group commit of runs' ends: a run cancelled since its last step was claimed writes nothing in the batch, and its end is refused", async () => {
    const runs = await Promise.all(Array.from({ length: 3 }, () => startedRun(oneStep)));
    const steps = await Promise.all(runs.map(({ flowId, run }) => claim(flowId, run, "a")));
    const cancelled = runs[1] as { flowId: string; run: number };
    await cancelRun(deps, cancelled.flowId, cancelled.run, "cancelled");
    const batching = countingPlannedEnds();
    const ended = await finishTogether(batching.deps, steps);
    expect(batching.transactions()).toBe(1);
    expect(ended.map((r) => r.status === "fulfilled" && r.value)).toEqual([
      { committed: true },
      { committed: false },
      { committed: true },
    ]);
    for (const i of [0, 2]) {
      const { flowId } = runs[i] as { flowId: string };
      expect(await flowRow(flowId)).toMatchObject({
        status: "completed",
        totalTokens: "3",
        result: { finalOutput: "out a" },
      });
      await expectResultTimesAsWritten(flowId);
      expect(await counts(flowId)).toEqual({ ledger: 1, messages: 1 });
      expect(await stepEndEvents(flowId)).toEqual(["step_complete:a"]);
      expect(await runEndEvents(flowId)).toEqual(["flow_complete"]);
    }
    expect(await flowRow(cancelled.flowId)).toMatchObject({ status: "cancelled", result: { status: "cancelled" } });
    expect(await counts(cancelled.flowId)).toEqual({ ledger: 0, messages: 0 });
    expect(await stepEndEvents(cancelled.flowId)).toEqual([]);
    expect(await runEndEvents(cancelled.flowId)).not.toContain("flow_complete");
  });

  it("group commit of runs' ends: when the batch fails, each run's end is written on its own under its lock, and the end that broke it fails alone", async () => {
    const runs = await Promise.all(Array.from({ length: 3 }, () => startedRun(oneStep)));
    const steps = await Promise.all(runs.map(({ flowId, run }) => claim(flowId, run, "a")));
    const batching = countingPlannedEnds();
    const broken = steps[1]?.claimed.id;
    const ended = await finishTogether(batching.deps, steps, (step) => {
      const ok = answer(step.claimed.stepId);
      return step.claimed.id === broken
        ? { ...ok, usage: { promptTokens: 3e9, completionTokens: 1, totalTokens: 3e9 } }
        : ok;
    });
    expect(batching.transactions()).toBe(1);
    expect(ended[0]).toEqual({ status: "fulfilled", value: { committed: true } });
    expect(ended[1]).toMatchObject({ status: "rejected", reason: { code: "22003" } });
    expect(ended[2]).toEqual({ status: "fulfilled", value: { committed: true } });
    for (const i of [0, 2]) {
      const { flowId } = runs[i] as { flowId: string };
      expect(await flowRow(flowId)).toMatchObject({ status: "completed", totalTokens: "3" });
      expect(await counts(flowId)).toEqual({ ledger: 1, messages: 1 });
      expect(await runEndEvents(flowId)).toEqual(["flow_complete"]);
    }
    const brokenRun = runs[1] as { flowId: string };
    expect(await flowRow(brokenRun.flowId)).toMatchObject({ status: "running", result: null });
    expect(await instances(brokenRun.flowId)).toEqual([{ stepId: "a", status: "running" }]);
    expect(await runEndEvents(brokenRun.flowId)).toEqual([]);
    // Still under its lease: it can end, and its run with it.
    expect(await finish(steps[1] as ClaimedStep)).toEqual({ committed: true });
    expect(await flowRow(brokenRun.flowId)).toMatchObject({ status: "completed", totalTokens: "3" });
    expect(await runEndEvents(brokenRun.flowId)).toEqual(["flow_complete"]);
  });

  it("more executes at once than the pool has connections, with the provider catalog not yet read: all are queued (none waits for good)", async () => {
    const flows = await Promise.all(
      Array.from({ length: 8 }, () => createFlow(deps, { threadId, userId: executorId, definition: threeSteps })),
    );
    // A fresh process with two connections: its first executes all read the catalog.
    const small = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: `test-${randomUUID().slice(0, 8)}`,
      logger: pino({ level: "silent" }),
      databasePoolSize: 2,
    });
    try {
      const executed = Promise.all(flows.map((f) => executeFlow(small.deps, f.id, { executedBy: executorId })));
      const stalled = new Promise((resolve) => setTimeout(() => resolve("stalled"), 4_000).unref());
      expect(await Promise.race([executed, stalled])).toEqual(
        flows.map((f) => expect.objectContaining({ flowId: f.id, status: "queued" })),
      );
    } finally {
      await small.close();
    }
  });

  it("cancelled during the call: the end is refused (nothing written), and the run stays cancelled", async () => {
    const { flowId, run } = await startedRun({
      name: "cancelled",
      type: "parallel",
      steps: [
        { id: "p", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
        { id: "q", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
      ],
    });
    const p = await claim(flowId, run, "p");
    const q = await claim(flowId, run, "q");
    await cancelRun(deps, flowId, run, "cancelled");
    expect(await finish(p)).toEqual({ committed: false });
    expect(await finish(q)).toEqual({ committed: false });
    expect(await instances(flowId)).toEqual([
      { stepId: "p", status: "cancelled" },
      { stepId: "q", status: "cancelled" },
    ]);
    expect(await flowRow(flowId)).toMatchObject({ status: "cancelled" });
    expect(await counts(flowId)).toEqual({ ledger: 0, messages: 0 });
  });

  it("a cancel racing the ends: each end is written once or not at all, and the run ends cancelled with nothing planned", async () => {
    const { flowId, run } = await startedRun({
      name: "cancel race",
      type: "parallel",
      steps: [
        { id: "p", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
        { id: "q", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
        { id: "all", provider: "sim", model: "echo", action: "summarize", prompt: "all", aggregate: true },
      ],
    });
    const p = await claim(flowId, run, "p");
    const q = await claim(flowId, run, "q");
    const [ended, , endedToo] = await Promise.all([finish(p), cancelRun(deps, flowId, run, "cancelled"), finish(q)]);
    const committed = [ended, endedToo].filter((r) => r.committed).length;
    const rows = await instances(flowId);
    expect(rows.filter((r) => r.status === "success")).toHaveLength(committed);
    expect(rows.filter((r) => r.stepId === "all")).toEqual([]);
    expect(stepJobs(flowId, "all")).toHaveLength(0);
    expect(await flowRow(flowId)).toMatchObject({ status: "cancelled" });
    expect(await counts(flowId)).toEqual({ ledger: committed, messages: committed });
  });
});

async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}
