import { migrateDatabase } from "../src/client.js";
import { createTestDatabase, type TestDatabase } from "../src/testing/index.js";
import { describeRepositoryContract } from "./repository-contract.js";

describe("repositories on PostgreSQL (postgres.js)", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("re-running migrations is a no-op", async () => {
    await migrateDatabase(database.handle);
  });

  describeRepositoryContract(() => database.handle);
});
