import { randomUUID } from "node:crypto";
import { insertThread, insertUser } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import postgres from "postgres";
import { createEngine, createFlow, executeFlow, startScheduler, startStepWorker, type Engine } from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

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

  it("aborts the call at the next renewal, commits nothing, and logs the call as possibly billed", async () => {
    const { deps } = engine;
    const user = await insertUser(deps.db, { name: "lease" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "lease" });
    const definition = {
      name: "lost lease",
      type: "sequential",
      steps: [{ id: "call", provider: "sim", model: "hang", action: "generate", prompt: "{{ original }}" }],
    };
    const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition });
    await executeFlow(deps, flow.id, { executedBy: user.id, input: "hello" });
    const running = await waitFor(async () => {
      const [row] = await sql<
        { id: string }[]
      >`select id from step_results where flow_id = ${flow.id} and status = 'running'`;
      return row;
    });
    // Another worker's claim: the fencing token moves on.
    await sql`update step_results set lease_token = lease_token + 1 where id = ${running.id}`;

    const cutOff = await waitFor(async () =>
      logs.find((l) => l.msg === "provider call cut off by a lost lease; it may still be billed"),
    );
    expect(cutOff).toMatchObject({ flowId: flow.id, stepId: "call", attempt: 0, provider: "sim", model: "hang" });
    expect(cutOff.callMs).toBeLessThan(3_000);
    const [ledger] = await sql<{ n: number }[]>`select count(*)::int as n from usage_ledger where flow_id = ${flow.id}`;
    expect(ledger?.n).toBe(0);
    const [step] = await sql<{ status: string }[]>`select status from step_results where id = ${running.id}`;
    expect(step?.status).toBe("running"); // the new holder's to commit, not this worker's
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
