import { migrateDatabase, openDatabase, type DatabaseHandle } from "../src/client.js";
import { describeRepositoryContract } from "./repository-contract.js";

// PGlite is heavy (seconds to start, ~1 GB): one in-memory instance for this whole file.
describe("repositories on embedded PGlite", () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ dataDir: "memory://" });
    await migrateDatabase(handle);
  }, 60_000);
  afterAll(async () => {
    await handle.close();
  });

  describeRepositoryContract(() => handle);
});
