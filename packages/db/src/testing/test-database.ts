import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { migrateDatabase, openDatabase, type DatabaseHandle } from "../client.js";

export const TEST_DATABASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  url: string;
  handle: DatabaseHandle;
  /** Closes the connections and drops the database. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database on the test server, one per test file, so files can
 * run side by side and leave nothing behind.
 */
export async function createTestDatabase(
  options: {
    maxConnections?: number;
    /** Another server than `TEST_DATABASE_URL` (a fault test's own): a URL to one of its databases. */
    serverUrl?: string;
    /** Apply the migrations (default); false leaves the database empty. */
    migrate?: boolean;
  } = {},
): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? TEST_DATABASE_URL;
  const name = `ensemble_test_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = serverUrl.replace(/\/[^/?]+(\?.*)?$/, `/${name}$1`);
  const handle = await openDatabase({ url, maxConnections: options.maxConnections ?? 5 });
  if (options.migrate ?? true) await migrateDatabase(handle);
  return {
    url,
    handle,
    async drop() {
      await handle.close();
      const cleanup = postgres(serverUrl, { max: 1, onnotice: () => undefined });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
