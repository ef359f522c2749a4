import { randomUUID } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import postgres from "postgres";
import { createEngine, startScheduler, startStepWorker, type Engine } from "../src/index.js";
import { executeNewFlow, waitFor } from "./support/engine-test-kit.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const CALL_MS = 800;
const TEST_TIMEOUT_MS = 30_000;

/**
 * Provider rate limits (PROVIDER_RATE_LIMITS), in-process on real Postgres and Redis: a step
 * over the limit gives its claim back and waits, without a call, a bill or a failed attempt.
 */
describe("a step over a provider's rate limit (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;
  let sql: postgres.Sql;
  const logs: Record<string, unknown>[] = [];
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: prefix,
      logger: pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
      migrate: true,
      // One call at a time to the simulator, across every worker.
      rateLimits: { sim: { maxConcurrent: 1 } },
    });
    const scheduler = await startScheduler(engine.deps, { connection: engine.workerConnection("s"), prefix });
    const worker = await startStepWorker(engine.deps, {
      connection: engine.workerConnection("w"),
      prefix,
      concurrency: 4,
    });
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

  async function runFlow(
    steps: { id: string; model: string; maxRetries?: number; retryOnFailure?: boolean }[],
  ): Promise<string> {
    const flowId = await executeNewFlow(
      engine.deps,
      {
        type: "parallel",
        steps: steps.map((s) => ({ ...s, provider: "sim", action: "generate", prompt: "{{ original }}" })),
      },
      "hi",
    );
    await waitFor(async () => {
      const [row] = await sql<{ status: string }[]>`select status from flows where id = ${flowId}`;
      return row && ["completed", "failed"].includes(row.status) ? row.status : undefined;
    });
    return flowId;
  }

  const stepsOf = (flowId: string) =>
    sql<{ step_id: string; status: string; attempt: number; completed_at: Date }[]>`
      select step_id, status, attempt, completed_at from step_results where flow_id = ${flowId} order by completed_at`;
  const billedCalls = async (flowId: string) =>
    (await sql<{ n: number }[]>`select count(*)::int as n from usage_ledger where flow_id = ${flowId}`)[0]?.n;

  it(
    "waits its turn: one call at a time, each step succeeds on its first attempt, billed once",
    async () => {
      const model = `slow?latencyMs=${CALL_MS}`;
      const flowId = await runFlow([
        { id: "a", model },
        { id: "b", model },
      ]);
      const steps = await stepsOf(flowId);
      expect(steps.map((s) => [s.status, s.attempt])).toEqual([
        ["success", 0],
        ["success", 0],
      ]);
      const [first, second] = steps.map((s) => s.completed_at.getTime());
      // Run together, both would end within a few ms; the limit puts one call after the other.
      expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(CALL_MS - 100);
      expect(await billedCalls(flowId)).toBe(2);
      expect(logs.some((l) => l.msg === "step waits for a provider rate limit" && l.flowId === flowId)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a vendor's 429 is retried after its Retry-After: the step succeeds, the refused call is not billed",
    async () => {
      const model = "fail?code=rate_limited&retryAfterMs=300&times=1";
      const flowId = await runFlow([{ id: "a", model, retryOnFailure: true, maxRetries: 2 }]);
      const [step] = await stepsOf(flowId);
      expect(step).toMatchObject({ status: "success", attempt: 1 });
      const ledger = await sql<{ attempt: number }[]>`select attempt from usage_ledger where flow_id = ${flowId}`;
      expect(ledger.map((row) => row.attempt)).toEqual([1]);
    },
    TEST_TIMEOUT_MS,
  );
});
