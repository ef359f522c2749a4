import { randomUUID } from "node:crypto";
import { insertThread, insertUser } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import postgres from "postgres";
import { cancelRun, createEngine, createFlow, executeFlow, type Engine, type EngineDeps } from "../src/index.js";
import { RunStartCommitter } from "../src/run/run-start-committer.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** `flow.start` group-committed, in this process against real Postgres and Redis (no scheduler runs). */
describe("starting runs together (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;
  let sql: postgres.Sql;
  let leaveCatalog: () => Promise<void>;
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
    const membership = await engine.deps.providerCatalog.join(engine.deps.workerId, [
      { key: "sim", models: null, limits: {} },
    ]);
    leaveCatalog = () => membership.leave();
    const user = await insertUser(engine.deps.db, { name: "starter" });
    executorId = user.id;
    threadId = (await insertThread(engine.deps.db, { ownerId: user.id, title: "start" })).id;
  });

  afterAll(async () => {
    await leaveCatalog();
    await engine.close();
    await sql.end();
    await database.drop();
  });

  const twoSteps = {
    name: "two steps",
    type: "sequential",
    steps: ["a", "b"].map((id) => ({
      id,
      provider: "sim",
      model: "echo",
      action: "generate",
      prompt: "{{ original }}",
    })),
  };

  /** Flows executed (queued, their flow.start not yet run). */
  async function queuedRuns(n: number): Promise<{ flowId: string; run: number }[]> {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const flow = await createFlow(engine.deps, { threadId, userId: executorId, definition: twoSteps });
        const { run } = await executeFlow(engine.deps, flow.id, { executedBy: executorId, input: "in" });
        return { flowId: flow.id, run };
      }),
    );
  }

  /** A committer whose transactions are counted; `failFirst` makes the first one fail before it writes. */
  function countingCommitter(failFirst = false): { committer: RunStartCommitter; transactions: () => number } {
    let transactions = 0;
    const deps: EngineDeps = {
      ...engine.deps,
      transact: (fn) => {
        transactions += 1;
        if (failFirst && transactions === 1) return Promise.reject(new Error("connection reset"));
        return engine.deps.transact(fn);
      },
    };
    return { committer: new RunStartCommitter(deps), transactions: () => transactions };
  }

  async function state(flowId: string) {
    const [flow] = await sql<{ status: string; startedAt: Date | null }[]>`
      select status, started_at as "startedAt" from flows where id = ${flowId}`;
    const steps = await sql<{ stepId: string; status: string }[]>`
      select step_id as "stepId", status from step_results where flow_id = ${flowId} order by step_index`;
    const events = await sql<{ type: string }[]>`
      select type from flow_event_outbox where flow_id = ${flowId} and type = 'flow_start' order by id`;
    return { status: flow?.status, started: flow?.startedAt !== null, steps: [...steps], starts: events.length };
  }

  const runningWithFirstStep = {
    status: "running",
    started: true,
    steps: [{ stepId: "a", status: "pending" }],
    starts: 1,
  };

  it("starts that arrive together share one transaction; each run starts once, with its first step and its flow_start event", async () => {
    const runs = await queuedRuns(6);
    const { committer, transactions } = countingCommitter();
    await Promise.all(runs.map((r) => committer.start(r.flowId, r.run)));
    expect(transactions()).toBe(1);
    for (const { flowId } of runs) expect(await state(flowId)).toEqual(runningWithFirstStep);
    // Redelivered: nothing more is written.
    await Promise.all(runs.map((r) => committer.start(r.flowId, r.run)));
    for (const { flowId } of runs) expect(await state(flowId)).toEqual(runningWithFirstStep);
  });

  it("a run cancelled before its start writes nothing in the batch; the others start", async () => {
    const runs = await queuedRuns(3);
    const cancelled = runs[1] as { flowId: string; run: number };
    await cancelRun(engine.deps, cancelled.flowId, cancelled.run, "cancelled");
    const { committer, transactions } = countingCommitter();
    await Promise.all(runs.map((r) => committer.start(r.flowId, r.run)));
    expect(transactions()).toBe(1);
    for (const i of [0, 2]) expect(await state(runs[i]?.flowId ?? "")).toEqual(runningWithFirstStep);
    expect(await state(cancelled.flowId)).toMatchObject({ status: "cancelled", steps: [], starts: 0 });
  });

  it("when the batch fails, each run is started in a transaction of its own", async () => {
    const runs = await queuedRuns(3);
    const { committer, transactions } = countingCommitter(true);
    await Promise.all(runs.map((r) => committer.start(r.flowId, r.run)));
    expect(transactions()).toBe(1 + runs.length);
    for (const { flowId } of runs) expect(await state(flowId)).toEqual(runningWithFirstStep);
  });
});
