export { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "./test-database.js";
