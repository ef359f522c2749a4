import { randomUUID } from "node:crypto";
import {
  findFlow,
  findStepBatch,
  insertThread,
  insertUser,
  listLedger,
  listRunSteps,
  type StepResultRow,
} from "@ensemble/db";
import { FLOW_LIMITS } from "@ensemble/core";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { startFakeVendors, type FakeVendors } from "@ensemble/providers/testing";
import pino from "pino";
import { pollBatch } from "../src/batch/run-batch.js";
import { sweepBatches } from "../src/batch/sweep-batches.js";
import { cancelRun } from "../src/run/cancel-run.js";
import { createEngine, createFlow, executeFlow, startScheduler, startStepWorker, type Engine } from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The engine in this process (real Postgres and Redis, the fake vendors' batch endpoints
 * through the official SDKs). The scheduler's own sweeps never submit (an age trigger of an
 * hour): the test submits and polls itself, to race what a cluster races by chance.
 */
describe("batch delivery (in-process engine)", () => {
  let database: TestDatabase;
  let vendors: FakeVendors;
  let engine: Engine;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    vendors = await startFakeVendors();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: prefix,
      logger: pino({ level: "warn" }),
      migrate: true,
      providerEnv: vendors.env,
      settings: { batchMaxAgeMs: 3_600_000, batchPollMs: 3_600_000 },
    });
    const scheduler = await startScheduler(engine.deps, { connection: engine.workerConnection("s"), prefix });
    const worker = await startStepWorker(engine.deps, {
      connection: engine.workerConnection("w"),
      prefix,
      providers: ["openai"],
    });
    stops.push(
      () => worker.close(),
      () => scheduler.close(),
    );
  }, 60_000);

  afterAll(async () => {
    for (const stop of stops) await stop();
    await engine?.close();
    await vendors?.close();
    await database?.drop();
  });

  /** Runs a one-step batch flow until its step is batched. */
  async function batchedFlow(input: string): Promise<{ flowId: string; step: StepResultRow }> {
    const { deps } = engine;
    const user = await insertUser(deps.db, { name: "batch" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "batch" });
    const definition = {
      name: "batch",
      type: "sequential",
      steps: [
        {
          id: "ask",
          provider: "openai",
          model: "gpt-4o",
          action: "generate",
          prompt: "{{ original }}",
          delivery: "batch",
        },
      ],
    };
    const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition });
    await executeFlow(deps, flow.id, { executedBy: user.id, input });
    const step = await waitFor(async () =>
      (await listRunSteps(deps.db, flow.id, 1)).find((s) => s.status === "batched"),
    );
    expect(step.batchRequest?.messages.at(-1)?.content).toContain(input);
    return { flowId: flow.id, step };
  }

  /** Submits what waits (the age trigger now) and waits until the worker recorded the batch. */
  async function submitNow(flowIds: string[]): Promise<string> {
    const { deps } = engine;
    await sweepBatches({ ...deps, settings: { ...deps.settings, batchMaxAgeMs: 0 } });
    return waitFor(async () => {
      const rows = await Promise.all(flowIds.map((id) => listRunSteps(deps.db, id, 1)));
      const batchId = rows[0]?.[0]?.batchId;
      return batchId && (await findStepBatch(deps.db, batchId))?.state === "submitted" ? batchId : undefined;
    });
  }

  it("applies a batch answer once when two polls race, and bills it at the batch price", async () => {
    vendors.openai.reset();
    vendors.openai.respondWith(() => ({ text: "ANSWER", usage: { promptTokens: 2_000, completionTokens: 1_000 } }));
    const { flowId } = await batchedFlow("race");
    const batchId = await submitNow([flowId]);
    await waitFor(
      async () => (vendors.openai.batches[0] && Date.now() >= vendors.openai.batches[0].readyAt) || undefined,
    );

    const payload = { batchId, provider: "openai" };
    const outcomes = await Promise.all([pollBatch(engine.deps, payload), pollBatch(engine.deps, payload)]);
    expect(outcomes).toContain("ended");

    const { deps } = engine;
    await waitFor(async () => ((await findFlow(deps.db, flowId))?.status === "completed" ? true : undefined));
    const [step] = await listRunSteps(deps.db, flowId, 1);
    expect(step).toMatchObject({ status: "success", output: "ANSWER", batchFallback: null });
    // gpt-4o in a batch: 2,000 × $1.25 + 1,000 × $5 per million.
    const ledger = await listLedger(deps.db, flowId);
    expect(ledger.map((row) => row.cost)).toEqual([0.0075]);
    expect((await findStepBatch(deps.db, batchId))?.state).toBe("ended");
  }, 60_000);

  it("drops the answer of a step cancelled while its batch ran, and applies the others", async () => {
    vendors.openai.reset();
    vendors.openai.respondWith(() => ({ text: "KEPT", usage: { promptTokens: 10, completionTokens: 10 } }));
    const kept = await batchedFlow("kept");
    const cancelled = await batchedFlow("cancelled");
    const batchId = await submitNow([kept.flowId, cancelled.flowId]);
    expect(vendors.openai.batches[0]?.items).toHaveLength(2);
    await cancelRun(engine.deps, cancelled.flowId, 1, "cancelled");
    await waitFor(
      async () => (vendors.openai.batches[0] && Date.now() >= vendors.openai.batches[0].readyAt) || undefined,
    );

    expect(await pollBatch(engine.deps, { batchId, provider: "openai" })).toBe("ended");
    const { deps } = engine;
    await waitFor(async () => ((await findFlow(deps.db, kept.flowId))?.status === "completed" ? true : undefined));
    expect((await listRunSteps(deps.db, cancelled.flowId, 1))[0]?.status).toBe("cancelled");
    expect(await listLedger(deps.db, cancelled.flowId)).toEqual([]);
    expect((await listLedger(deps.db, kept.flowId)).length).toBe(1);
  }, 60_000);

  it("fails a step whose batch answer is over the output limit, billed but not stored", async () => {
    vendors.openai.reset();
    const tooLong = "x".repeat(FLOW_LIMITS.maxStepOutputChars + 1);
    vendors.openai.respondWith(() => ({ text: tooLong, usage: { promptTokens: 10, completionTokens: 10 } }));
    const { flowId } = await batchedFlow("long");
    const batchId = await submitNow([flowId]);
    await waitFor(
      async () => (vendors.openai.batches[0] && Date.now() >= vendors.openai.batches[0].readyAt) || undefined,
    );

    expect(await pollBatch(engine.deps, { batchId, provider: "openai" })).toBe("ended");
    const { deps } = engine;
    await waitFor(async () => ((await findFlow(deps.db, flowId))?.status === "failed" ? true : undefined));
    const [step] = await listRunSteps(deps.db, flowId, 1);
    expect(step).toMatchObject({ status: "failed", output: null, error: { code: "output_too_large" } });
    expect((await listLedger(deps.db, flowId)).length).toBe(1);
  }, 60_000);
});

async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
