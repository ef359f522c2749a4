import { randomUUID } from "node:crypto";
import { migrateDatabase, unappliedMigrations } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import pino from "pino";
import { createEngine, type Engine } from "../src/index.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** MIGRATE_ON_START=false: a process applies no migration and waits for the migrate job's. */
describe("starting on a database that is not migrated yet", () => {
  let database: TestDatabase;
  let engine: Engine | undefined;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await engine?.close();
    await database.drop();
  });

  it("waits until the migrations are applied elsewhere, then starts", async () => {
    const missing = await unappliedMigrations(database.handle);
    expect(missing[0]).toBe("0000_init");

    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
    let started = false;
    const starting = createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      queuePrefix: `test-${randomUUID().slice(0, 8)}`,
      logger,
      migrate: false,
    }).then((e) => {
      started = true;
      engine = e;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(started).toBe(false);
    expect(warnings).toContain("waiting for the database migrations (MIGRATE_ON_START=false)");
    // Nothing was applied by the waiting process.
    expect(await unappliedMigrations(database.handle)).toEqual(missing);

    await migrateDatabase(database.handle); // the migrate job
    await starting;
    expect(started).toBe(true);
    expect(await unappliedMigrations(database.handle)).toEqual([]);
  });
});
