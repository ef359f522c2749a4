import { randomUUID } from "node:crypto";
import { computeCost, DEFAULT_PRICE_TABLE, mergePriceTables, type TokenUsage } from "@ensemble/core";
import {
  findFlow,
  findStepInstance,
  insertThread,
  insertUser,
  listRunSteps,
  recordCutOffCall,
  upsertUserLimits,
  userUsage,
} from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import postgres from "postgres";
import {
  createEngine,
  createFlow,
  executeFlow,
  flowTotals,
  startScheduler,
  startStepWorker,
  type Engine,
} from "../src/index.js";
import { finishStep } from "../src/step/finish-step.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The sim priced, so a cut-off call's estimate has a cost: $1,000 in and $4,000 out per million tokens. */
const PRICES = mergePriceTables(DEFAULT_PRICE_TABLE, {
  sim: { "*": { inputPerMillion: 1_000, outputPerMillion: 4_000 } },
});

/** Forty deltas (each the sim's clock, in ms), streamed at ten a second: the lease is lost while it streams. */
const STREAMING_MODEL = "clock?tokens=40&tokensPerSecond=10";
const ANSWER = "the new holder's answer";

interface BilledRow {
  attempt: number;
  /** The lease the calling worker lost; null on the ledger's committed row. */
  lost_lease_token: number | null;
  provider: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number | null;
  user_id: string;
}

/** The engine in this process (real Postgres and Redis): a scheduler and a step worker on a queue prefix of their own. */
describe("a step whose lease is taken over mid-call (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;
  let sql: postgres.Sql;
  const logs: Record<string, unknown>[] = [];
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    // A short lease: renewals every 500 ms.
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: prefix,
      logger,
      migrate: true,
      prices: PRICES,
      settings: { stepLeaseMs: 1_500 },
    });
    const scheduler = await startScheduler(engine.deps, { connection: engine.workerConnection("s"), prefix });
    const worker = await startStepWorker(engine.deps, { connection: engine.workerConnection("w"), prefix });
    stops.push(
      () => worker.close(),
      () => scheduler.close(),
    );
  });

  afterAll(async () => {
    for (const stop of stops) await stop();
    await engine.close();
    await sql.end();
    await database.drop();
  });

  /** A one-step run of `model`, running; with its step's row as the worker claimed it. */
  async function startOneStepRun(model: string) {
    const { deps } = engine;
    const user = await insertUser(deps.db, { name: "lease" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "lease" });
    const definition = {
      name: "lost lease",
      type: "sequential",
      steps: [{ id: "call", provider: "sim", model, action: "generate", prompt: "{{ original }}" }],
    };
    const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition });
    await executeFlow(deps, flow.id, { executedBy: user.id, input: "Summarise the quarterly report in forty words." });
    const running = await waitFor(async () => {
      const [row] = await sql<
        { id: string; run: number; lease_token: number }[]
      >`select id, run, lease_token from step_results where flow_id = ${flow.id} and status = 'running'`;
      return row;
    });
    return { user, flow, running };
  }

  /** Another worker's claim: the fencing token moves on (as a takeover of an expired lease moves it). */
  async function takeOver(stepResultId: string): Promise<void> {
    await sql`update step_results set lease_token = lease_token + 1 where id = ${stepResultId}`;
  }

  /** The flow's billed calls: its cut-off calls, then its ledger rows. */
  const billedOf = (flowId: string) =>
    sql<BilledRow[]>`
      select attempt, lease_token as lost_lease_token, provider, model, prompt_tokens, completion_tokens, cost, user_id
        from cut_off_calls where flow_id = ${flowId}
      union all
      select attempt, null, provider, model, prompt_tokens, completion_tokens, cost, user_id
        from usage_ledger where flow_id = ${flowId}
      order by lost_lease_token nulls last`;

  it("aborts the call at the next renewal, commits nothing, and logs the call as possibly billed", async () => {
    const { flow, running } = await startOneStepRun("hang");
    await takeOver(running.id);

    const cutOff = await waitFor(async () =>
      logs.find(
        (l) => l.msg === "provider call cut off by a lost lease; it may still be billed" && l.flowId === flow.id,
      ),
    );
    expect(cutOff).toMatchObject({ flowId: flow.id, stepId: "call", attempt: 0, provider: "sim", model: "hang" });
    expect(cutOff.callMs).toBeLessThan(3_000);
    const [step] = await sql<{ status: string }[]>`select status from step_results where id = ${running.id}`;
    expect(step?.status).toBe("running"); // the new holder's to commit, not this worker's
  });

  it("records the cut-off call, estimated and priced, beside the new holder's one ledger row for the attempt; usage, spend caps and the run's cost count it", async () => {
    const { deps } = engine;
    const { user, flow, running } = await startOneStepRun(STREAMING_MODEL);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // about ten of its forty deltas streamed
    await takeOver(running.id);

    // The worker that lost the lease records what it knows of its call.
    const [cutOff] = await waitFor(async () => {
      const rows = await billedOf(flow.id);
      return rows.length > 0 ? rows : undefined;
    });
    expect(cutOff).toMatchObject({
      attempt: 0,
      lost_lease_token: running.lease_token,
      provider: "sim",
      model: STREAMING_MODEL,
      user_id: user.id,
    });
    const estimated: TokenUsage = {
      promptTokens: cutOff!.prompt_tokens,
      completionTokens: cutOff!.completion_tokens,
      totalTokens: cutOff!.prompt_tokens + cutOff!.completion_tokens,
    };
    expect(estimated.promptTokens).toBeGreaterThan(0);
    expect(estimated.completionTokens).toBeGreaterThan(0); // the part streamed before the cut
    const cutOffCost = computeCost(estimated, "sim", STREAMING_MODEL, PRICES).cost as number;
    expect(cutOffCost).toBeGreaterThan(0);
    expect(cutOff!.cost).toBe(cutOffCost);
    const logged = logs.find(
      (l) => l.msg === "provider call cut off by a lost lease; it may still be billed" && l.flowId === flow.id,
    );
    expect(logged).toMatchObject({
      estimatedPromptTokens: estimated.promptTokens,
      estimatedCompletionTokens: estimated.completionTokens,
      estimatedCostUsd: cutOffCost,
    });
    // Part of the answer, not all of it: forty 13-digit times, spaced.
    expect(logged?.streamedChars).toBeGreaterThan(0);
    expect(logged?.streamedChars).toBeLessThan(40 * 14 - 1);
    const [stillRunning] = await sql<{ status: string }[]>`select status from step_results where id = ${running.id}`;
    expect(stillRunning?.status).toBe("running");

    // The new holder commits the attempt: its own row, once.
    const held = await findStepInstance(deps.db, { flowId: flow.id, run: running.run, stepId: "call", iteration: 0 });
    expect(held?.leaseToken).toBe(running.lease_token + 1);
    const usage = { promptTokens: 12, completionTokens: 80, totalTokens: 92 };
    const committedCost = computeCost(usage, "sim", STREAMING_MODEL, PRICES).cost as number;
    // As a worker commits: planned from the run as it claimed it (the run's end with the step's).
    const claimedWith = {
      flow: (await findFlow(deps.db, flow.id))!,
      rows: await listRunSteps(deps.db, flow.id, running.run),
    };
    const finished = await finishStep(
      deps,
      held!,
      { status: "success", output: ANSWER, usage, cost: committedCost, provider: "sim", model: STREAMING_MODEL },
      { claimedWith },
    );
    expect(finished.committed).toBe(true);
    await waitFor(async () => {
      const row = await findFlow(deps.db, flow.id);
      return row?.status === "completed" ? row : undefined;
    });

    // A retried write of the same cut-off adds nothing.
    expect(
      await recordCutOffCall(deps.db, {
        stepResultId: running.id,
        attempt: 0,
        leaseToken: running.lease_token,
        flowId: flow.id,
        run: running.run,
        userId: user.id,
        provider: "sim",
        model: STREAMING_MODEL,
        promptTokens: estimated.promptTokens,
        completionTokens: estimated.completionTokens,
        cost: cutOffCost,
      }),
    ).toBe(false);
    const billed = await billedOf(flow.id);
    expect(billed).toHaveLength(2);
    expect(billed.filter((r) => r.lost_lease_token === null)).toEqual([
      expect.objectContaining({ attempt: 0, prompt_tokens: 12, completion_tokens: 80, cost: committedCost }),
    ]);

    // GET /v1/usage's sum, the spend cap's and the run's totals count both calls.
    const total = committedCost + cutOffCost;
    const [usageTotal] = await userUsage(
      deps.db,
      user.id,
      new Date(Date.now() - 3_600_000),
      new Date(Date.now() + 60_000),
    );
    expect(usageTotal?.costUsd).toBeCloseTo(total, 10);
    expect(usageTotal).toMatchObject({ calls: 2, cutOffCalls: 1, cutOffCostUsd: cutOffCost });
    await upsertUserLimits(deps.db, user.id, {
      dailyUsd: committedCost + cutOffCost / 2,
      monthlyUsd: null,
      maxInFlightSteps: null,
    });
    expect(await deps.spendCaps.reached(user.id)).toMatchObject({
      period: "daily",
      spentUsd: expect.closeTo(total, 10),
    });
    const afterRetry = await findFlow(deps.db, flow.id);
    expect(afterRetry?.totalCost).toBeCloseTo(total, 10);
    expect(afterRetry?.totalTokens).toBe(usage.totalTokens + estimated.totalTokens);
    expect(flowTotals(afterRetry!, [held!]).totalCost).toBeCloseTo(total, 8);
  });
});

async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}
