import { randomUUID } from "node:crypto";
import { insertThread, insertUser, listFlowEvents, listOutboxKeys, sendOutboxEvents } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import postgres from "postgres";
import {
  archiveDueFlows,
  cancelRun,
  createEngine,
  createFlow,
  executeFlow,
  startRun,
  sweepRuns,
  type Engine,
  type EngineDeps,
} from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The outbox relay in this process against real Postgres and Redis: what the sweep does for
 * a flow whose events Redis lost, and for the rows of a flow that no longer exists.
 */
describe("event outbox relay (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;
  let deps: EngineDeps;
  let sql: postgres.Sql;
  let userId: string;
  let threadId: string;
  let leaveCatalog: () => Promise<void>;

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
    deps = engine.deps;
    const membership = await deps.providerCatalog.join(deps.workerId, [{ key: "sim", models: null, limits: {} }]);
    leaveCatalog = () => membership.leave();
    userId = (await insertUser(deps.db, { name: "relay" })).id;
    threadId = (await insertThread(deps.db, { ownerId: userId, title: "relay" })).id;
  });

  afterAll(async () => {
    await leaveCatalog();
    await engine.close();
    await sql.end();
    await database.drop();
  });

  it("restores an ended flow's events after Redis lost them, in order and above any id used, archives them and empties the outbox; drops a deleted flow's rows", async () => {
    const flow = await createFlow(deps, {
      threadId,
      userId,
      definition: {
        name: "lost",
        type: "sequential",
        steps: [{ id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
      },
    });
    const { run } = await executeFlow(deps, flow.id, { executedBy: userId, input: "in" });
    await startRun(deps, flow.id, run);
    await cancelRun(deps, flow.id, run, "cancelled");
    expect((await deps.bus.readAfter(flow.id, 0)).map((e) => [e.id, e.type])).toEqual([
      [1, "flow_start"],
      [2, "flow_cancelled"],
    ]);
    // Redis loses the flow: its stream, numbering and archive entry.
    await deps.bus.expire(flow.id, 0);
    await deps.archives.done(await deps.archives.due(Date.now() + 60_000, 100));
    // A flow deleted with rows left in the outbox.
    const gone = `gone-${randomUUID()}`;
    await deps.transact(async (tx, control) => {
      control.commitAfter(
        sendOutboxEvents(tx, [{ key: "g1", flowId: gone, type: "flow_start", stepId: null, data: {} }]),
      );
      return null;
    });
    await sql`update flow_event_outbox set created_at = now() - interval '10 seconds'`;

    const swept = await sweepRuns(deps);
    expect(swept.relayed).toBe(2);
    expect((await deps.bus.readAfter(flow.id, 0)).map((e) => [e.id, e.type])).toEqual([
      [1_000_001, "flow_start"],
      [1_000_002, "flow_cancelled"],
    ]);
    expect(await listOutboxKeys(deps.db, [gone])).toEqual([]);
    // Queued for archival again (its entry went with Redis); a second pass publishes nothing more.
    expect((await sweepRuns(deps)).relayed).toBe(0);
    expect(await archiveDueFlows(deps, Date.now() + 1_000)).toBe(1);
    expect((await listFlowEvents(deps.db, flow.id)).map((e) => [e.seq, e.type])).toEqual([
      [1_000_001, "flow_start"],
      [1_000_002, "flow_cancelled"],
    ]);
    expect(await listOutboxKeys(deps.db, [flow.id])).toEqual([]);
  });
});
