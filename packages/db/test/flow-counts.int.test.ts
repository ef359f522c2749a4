import { countFlowsByStatus } from "../src/repositories/flow-counts.js";
import { insertFlow, updateFlow } from "../src/repositories/flows.js";
import { insertThread } from "../src/repositories/threads.js";
import { insertUser } from "../src/repositories/users.js";
import { createTestDatabase, type TestDatabase } from "../src/testing/index.js";

describe("countFlowsByStatus", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("counts flows per asked status, with 0 for a status no flow has", async () => {
    const db = database.handle.db;
    const user = await insertUser(db, { name: "counter" });
    const thread = await insertThread(db, { ownerId: user.id, title: "t" });
    const definition = { name: "f", type: "sequential", steps: [] };
    const statuses = ["running", "running", "queued", "completed"] as const;
    for (const status of statuses) {
      const flow = await insertFlow(db, {
        threadId: thread.id,
        userId: user.id,
        name: "f",
        description: null,
        flowType: "sequential",
        definition,
      });
      await updateFlow(db, flow.id, { status });
    }
    expect(await countFlowsByStatus(db, ["queued", "running", "failed"])).toEqual({ queued: 1, running: 2, failed: 0 });
    expect(await countFlowsByStatus(db, [])).toEqual({});
  });
});
