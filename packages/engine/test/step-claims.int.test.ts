import { randomUUID } from "node:crypto";
import { insertThread, insertUser } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import { createEngine, createFlow, executeFlow, startRun, type Engine } from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Step claims made together (a fan-out's siblings fetched in one turn) share one statement
 * (`StepClaims`); each still gets its own answer, as a claim made alone would.
 */
describe("claiming steps together (in-process engine)", () => {
  let database: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    database = await createTestDatabase();
    engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: `test-${randomUUID().slice(0, 8)}`,
      logger: pino({ level: "silent" }),
      migrate: true,
    });
    await engine.deps.providerCatalog.join(engine.deps.workerId, [{ key: "sim", models: null, limits: {} }]);
  });
  afterAll(async () => {
    await engine.close();
    await database.drop();
  });

  it("claims a run's siblings in one turn, each its own; the same instance twice is claimed once", async () => {
    const { deps } = engine;
    const user = await insertUser(deps.db, { name: "claimer" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "claims" });
    const sibling = (id: string) => ({
      id,
      provider: "sim",
      model: "echo",
      action: "generate",
      prompt: "{{ original }}",
    });
    const flow = await createFlow(deps, {
      threadId: thread.id,
      userId: user.id,
      definition: { name: "fan-out", type: "parallel", steps: [sibling("a"), sibling("b"), sibling("c")] },
    });
    const { run } = await executeFlow(deps, flow.id, { executedBy: user.id, input: "x" });
    await startRun(deps, flow.id, run);

    const claim = (stepId: string, owner = "worker-a") =>
      deps.claims.claim({ flowId: flow.id, run, stepId, iteration: 0, attempt: 0, owner, leaseMs: 30_000 });
    const [a, b, c, againB] = await Promise.all([claim("a"), claim("b"), claim("c"), claim("b", "worker-b")]);

    for (const [claimed, stepId] of [
      [a, "a"],
      [b, "b"],
      [c, "c"],
    ] as const) {
      expect(claimed?.claimed).toMatchObject({ stepId, status: "running", leaseToken: 1, leaseOwner: "worker-a" });
      expect(claimed?.flow).toMatchObject({ id: flow.id, status: "running", run });
      expect(claimed?.rows.map((r) => r.stepId).sort()).toEqual(["a", "b", "c"]);
      expect(claimed?.tookOver).toBe(false);
    }
    expect(againB).toBeUndefined(); // the job delivered twice: its second claim finds it held
  });
});
