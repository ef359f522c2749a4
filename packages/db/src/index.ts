// @ensemble/db — Drizzle schema, migrations and repositories; postgres.js for a server, PGlite embedded.
export { openDatabase, migrateDatabase, unappliedMigrations, MIGRATIONS_FOLDER } from "./client.js";
export { isDatabaseUnavailable } from "./database-availability.js";
export type {
  Database,
  DatabaseHandle,
  Executor,
  OpenDatabaseOptions,
  Transaction,
  TransactionControl,
} from "./client.js";
export * as tables from "./schema/tables.js";
export * from "./repositories/ids.js";
export * from "./repositories/users.js";
export * from "./repositories/threads.js";
export * from "./repositories/flows.js";
export * from "./repositories/flow-counts.js";
export * from "./repositories/step-results.js";
export * from "./repositories/events.js";
export * from "./repositories/event-outbox.js";
export * from "./repositories/step-hot-path.js";
export * from "./repositories/execute-run.js";
export * from "./repositories/provider-catalog.js";
export * from "./repositories/flow-runs.js";
export * from "./repositories/approvals.js";
export * from "./repositories/spend.js";
export * from "./repositories/schedules.js";
export * from "./repositories/step-batches.js";
export * from "./repositories/cut-off-calls.js";
