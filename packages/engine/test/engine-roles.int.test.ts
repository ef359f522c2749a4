import { randomUUID } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import { createEngine } from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Each role gets the dependencies it uses: only a process that runs steps builds provider adapters. */
describe("createEngine by role", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  const config = () => ({
    redisUrl: REDIS_URL,
    databaseUrl: database.url,
    queuePrefix: `test-${randomUUID().slice(0, 8)}`,
    logger: pino({ level: "silent" }),
    migrate: true,
  });

  it("api and scheduler: runs, no provider adapters, rate limiter, lease pool or step-end commits", async () => {
    for (const role of ["api", "scheduler"] as const) {
      const engine = await createEngine({ ...config(), role, rateLimits: { sim: { requestsPerMinute: 1 } } });
      try {
        // @ts-expect-error a run-only process has no provider adapters
        expect(engine.deps.providers).toBeUndefined();
        for (const member of ["providers", "rateLimiter", "leaseDb", "stepEnds", "plannedEnds", "hooks", "prices"])
          expect(engine.deps).not.toHaveProperty(member);
        expect(engine.deps.producer).toBeDefined();
      } finally {
        await engine.close();
      }
    }
  });

  it("worker: provider adapters (sim at least), the rate limiter and a lease pool of its own", async () => {
    const engine = await createEngine({ ...config(), role: "worker", rateLimits: { sim: { requestsPerMinute: 1 } } });
    try {
      expect(engine.deps.providers.has("sim")).toBe(true);
      expect(engine.deps.rateLimiter).not.toBeNull();
      expect(engine.deps.leaseDb).not.toBe(engine.deps.db);
    } finally {
      await engine.close();
    }
  });
});
