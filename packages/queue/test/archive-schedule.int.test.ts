import type { Redis } from "ioredis";
import { ArchiveSchedule } from "../src/archive-schedule.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { deleteKeys, randomPrefix, REDIS_URL } from "./helpers/redis-test-env.js";

const prefix = randomPrefix();
let connection: Redis;

beforeAll(() => {
  connection = createRedisConnection({ url: REDIS_URL, role: "producer", name: `${prefix}-archive` });
});

afterAll(async () => {
  await closeRedisConnection(connection);
  await deleteKeys(prefix);
});

describe("ArchiveSchedule", () => {
  it("hands out the flows that are due, earliest first and at most `limit`; done takes them off", async () => {
    const schedule = new ArchiveSchedule({ connection, prefix });
    await schedule.add(["late"], 3_000);
    await schedule.add(["first", "second"], 1_000);
    await schedule.add(["third"], 2_000);

    expect(await schedule.due(500, 10)).toEqual([]);
    expect((await schedule.due(2_000, 10)).map((d) => d.flowId)).toEqual(["first", "second", "third"]);
    const batch = await schedule.due(2_000, 2);
    expect(batch).toEqual([
      { flowId: "first", dueAtMs: 1_000 },
      { flowId: "second", dueAtMs: 1_000 },
    ]);
    await schedule.done(batch);
    expect((await schedule.due(5_000, 10)).map((d) => d.flowId)).toEqual(["third", "late"]);
  });

  it("keeps a flow scheduled again while it was being archived (its run ended again)", async () => {
    const schedule = new ArchiveSchedule({ connection, prefix: `${prefix}-again` });
    await schedule.add(["flow"], 1_000);
    const batch = await schedule.due(1_000, 10);
    await schedule.add(["flow"], 4_000); // re-executed and ended while the batch was written
    await schedule.done(batch);
    expect(await schedule.due(5_000, 10)).toEqual([{ flowId: "flow", dueAtMs: 4_000 }]);
  });
});
