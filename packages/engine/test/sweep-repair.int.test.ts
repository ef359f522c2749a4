import { randomUUID } from "node:crypto";
import { insertSchedule, insertThread, insertUser, registerProviderWorker } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { QUEUE_NAMES, stepQueueName } from "@ensemble/queue";
import pino from "pino";
import postgres from "postgres";
import { createEngine, createFlow, startScheduler, startStepWorker, sweepRuns, type Engine } from "../src/index.js";
import { startRun } from "../src/run/start-run.js";
import { fireSchedule } from "../src/schedule/flow-schedules.js";
import { executeNewFlow, sleep, waitFor } from "./support/engine-test-kit.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** A pending step older than this is stale (the sweep re-enqueues it). */
const STALE_STEP_MS = 300;
/** Each test waits for runs to end: longer than jest's default on a loaded machine. */
const TEST_TIMEOUT_MS = 30_000;

/**
 * The sweep's repairs (run/sweep-runs.ts), in-process on real Postgres and Redis: work whose
 * job was lost, or whose worker died, is found from Postgres and moves again. The scheduler
 * runs flow jobs but not the periodic sweep (once an hour here): each test sweeps by hand.
 */
describe("the sweep repairs runs that stopped moving (in-process engine)", () => {
  let database: TestDatabase;
  let sql: postgres.Sql;
  let engine: Engine;
  let prefix: string;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
  });
  /** Flows on `sim` are accepted before any step worker runs (a worker of another process serves it). */
  const registerSim = () =>
    registerProviderWorker(engine.deps.db, "sweep-test", [{ key: "sim", models: null, limits: {} }]);
  beforeEach(async () => {
    prefix = `test-${randomUUID().slice(0, 8)}`;
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: prefix,
      logger: pino({ level: "silent" }),
      migrate: true,
      // Step jobs straight in BullMQ, where a test can lose them.
      fairShare: false,
      settings: { staleStepMs: STALE_STEP_MS, stepLeaseMs: 2_000 },
    });
    await registerSim();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await Promise.all(engine.deps.producer.getQueues(["sim"]).map((q) => q.obliterate({ force: true })));
    await engine.close();
  });
  afterAll(async () => {
    await sql.end();
    await database.drop();
  });

  const startSchedulerRole = async () => {
    const scheduler = await startScheduler(engine.deps, {
      connection: engine.workerConnection("s"),
      prefix,
      sweepEveryMs: 3_600_000,
    });
    stops.push(() => scheduler.close());
  };
  const startWorkerRole = async () => {
    const worker = await startStepWorker(engine.deps, { connection: engine.workerConnection("w"), prefix });
    stops.push(() => worker.close());
  };
  /** Removes every job of a queue, as a Redis failover that lost them would. */
  const loseJobs = async (queueName: string) => {
    const queue = engine.deps.producer.getQueues(["sim"]).find((q) => q.name === queueName);
    if (!queue) throw new Error(`no queue ${queueName}`);
    await queue.obliterate({ force: true });
  };

  const flowsQueue = () => engine.deps.producer.getQueues().find((q) => q.name === QUEUE_NAMES.flows)!;
  type Counts = Record<string, number>;

  /** A one-step flow on the simulator, executed. */
  const executeOneStepFlow = async () => ({
    flowId: await executeNewFlow(engine.deps, {
      type: "sequential",
      steps: [{ id: "only", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
    }),
  });

  const flowStatus = async (flowId: string) =>
    (await sql<{ status: string }[]>`select status from flows where id = ${flowId}`)[0]?.status;
  const stepOf = async (flowId: string) =>
    (
      await sql<{ status: string; attempt: number; lease_token: number; output: string | null }[]>`
        select status, attempt, lease_token, output from step_results where flow_id = ${flowId}`
    )[0];
  const billedCalls = async (flowId: string) =>
    (await sql<{ n: number }[]>`select count(*)::int as n from usage_ledger where flow_id = ${flowId}`)[0]?.n;

  it(
    "a pending step whose job was lost is enqueued again and runs once",
    async () => {
      await startSchedulerRole();
      const { flowId } = await executeOneStepFlow();
      await waitFor(async () => ((await stepOf(flowId))?.status === "pending" ? true : undefined));
      await loseJobs(stepQueueName("sim"));
      await startWorkerRole();
      await sleep(STALE_STEP_MS + 700);
      expect(await stepOf(flowId)).toMatchObject({ status: "pending" }); // nothing runs it

      expect(await sweepRuns(engine.deps)).toMatchObject({ steps: 1 });
      await waitFor(async () => ((await flowStatus(flowId)) === "completed" ? true : undefined));
      expect(await stepOf(flowId)).toMatchObject({ status: "success", attempt: 0, output: "echo: hello" });
      expect(await billedCalls(flowId)).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a running step whose worker died is taken over once its lease runs out",
    async () => {
      await startSchedulerRole();
      const { flowId } = await executeOneStepFlow();
      await waitFor(async () => ((await stepOf(flowId))?.status === "pending" ? true : undefined));
      await loseJobs(stepQueueName("sim"));
      // Claimed by a worker that then died: running, its lease run out, no job left.
      await sql`
      update step_results set status = 'running', lease_owner = 'dead-worker', lease_token = lease_token + 1,
        lease_expires_at = now() - interval '1 second', started_at = now() - interval '3 seconds'
      where flow_id = ${flowId}`;
      const deadToken = (await stepOf(flowId))?.lease_token ?? 0;
      await startWorkerRole();

      expect(await sweepRuns(engine.deps)).toMatchObject({ steps: 1 });
      await waitFor(async () => ((await flowStatus(flowId)) === "completed" ? true : undefined));
      const step = await stepOf(flowId);
      expect(step).toMatchObject({ status: "success", output: "echo: hello" });
      expect(step?.lease_token).toBeGreaterThan(deadToken); // a new claim fenced the dead one out
      expect(await billedCalls(flowId)).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a queued run whose start job was lost is started",
    async () => {
      const { flowId } = await executeOneStepFlow(); // no scheduler yet: flow.start waits in its queue
      await loseJobs(QUEUE_NAMES.flows);
      await sql`update flows set queued_at = now() - interval '10 seconds' where id = ${flowId}`;
      const flowJobs = async () => (await flowsQueue().getJobCounts("waiting", "prioritized", "delayed")) as Counts;
      expect(await flowJobs()).toEqual({ waiting: 0, prioritized: 0, delayed: 0 }); // nothing would start it

      expect(await sweepRuns(engine.deps)).toMatchObject({ flows: 1 });
      expect(Object.values(await flowJobs()).reduce((a, b) => a + b, 0)).toBe(1);
      await startSchedulerRole();
      await startWorkerRole();
      await waitFor(async () => ((await flowStatus(flowId)) === "completed" ? true : undefined));
      expect(await billedCalls(flowId)).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a start delivered again after its run began sends the first steps' lost jobs, without waiting for the sweep",
    async () => {
      await startSchedulerRole();
      const { flowId } = await executeOneStepFlow();
      // The scheduler committed the start and died before the step's job reached Redis.
      await waitFor(async () => ((await stepOf(flowId))?.status === "pending" ? true : undefined));
      await loseJobs(stepQueueName("sim"));
      await startWorkerRole();

      await startRun(engine.deps, flowId, 1); // the start job, redelivered after the stall
      await waitFor(async () => ((await flowStatus(flowId)) === "completed" ? true : undefined));
      expect(await stepOf(flowId)).toMatchObject({ status: "success", attempt: 0, output: "echo: hello" });
      expect(await billedCalls(flowId)).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a run past its deadline is timed out, its waiting step cancelled",
    async () => {
      await startSchedulerRole();
      const { flowId } = await executeOneStepFlow();
      await waitFor(async () => ((await stepOf(flowId))?.status === "pending" ? true : undefined));
      await loseJobs(stepQueueName("sim"));
      await sql`update flows set deadline_at = now() - interval '1 second' where id = ${flowId}`;

      expect(await sweepRuns(engine.deps)).toMatchObject({ flows: 1 });
      await waitFor(async () => ((await flowStatus(flowId)) === "timed_out" ? true : undefined));
      expect((await stepOf(flowId))?.status).toBe("cancelled");
      expect(await billedCalls(flowId)).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
  it(
    "a schedule firing that runs again after its start job was lost sends the start, without waiting for the sweep",
    async () => {
      const user = await insertUser(engine.deps.db, { name: "scheduled" });
      const thread = await insertThread(engine.deps.db, { ownerId: user.id, title: "scheduled" });
      const flow = await createFlow(engine.deps, {
        threadId: thread.id,
        userId: user.id,
        definition: {
          name: "scheduled",
          type: "sequential",
          steps: [{ id: "only", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
        },
      });
      const schedule = await insertSchedule(engine.deps.db, {
        flowId: flow.id,
        userId: user.id,
        cron: "0 0 1 1 *", // fired by hand here: the scheduler's own firings must not add runs
        timezone: "UTC",
        input: "tick",
        metadata: {},
      });
      const fireAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      // The first try commits the run and dies before its start reaches Redis.
      await fireSchedule(engine.deps, schedule.id, fireAt);
      await loseJobs(QUEUE_NAMES.flows);
      const flowJobs = async () =>
        Object.values(await flowsQueue().getJobCounts("waiting", "prioritized", "delayed")).reduce((a, b) => a + b, 0);
      expect(await flowJobs()).toBe(0);
      expect(await flowStatus(flow.id)).toBe("queued");

      // The firing's job runs again: no second run, and the first one's start is sent.
      await fireSchedule(engine.deps, schedule.id, fireAt);
      expect(await flowJobs()).toBe(1);
      await startSchedulerRole();
      await startWorkerRole();
      await waitFor(async () => ((await flowStatus(flow.id)) === "completed" ? true : undefined));
      expect(await billedCalls(flow.id)).toBe(1);
      const firings = await sql<{ outcome: string; run: number }[]>`
        select outcome, run from schedule_firings where schedule_id = ${schedule.id}`;
      expect(firings).toEqual([{ outcome: "started", run: 1 }]);

      // Once the run has ended, the same firing again starts nothing.
      await fireSchedule(engine.deps, schedule.id, fireAt);
      await sleep(300);
      expect(await sql`select run, status from flows where id = ${flow.id}`).toEqual([{ run: 1, status: "completed" }]);
    },
    TEST_TIMEOUT_MS,
  );
});
