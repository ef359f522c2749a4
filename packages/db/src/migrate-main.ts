// `pnpm db:migrate`: applies migrations to DATABASE_URL (or the embedded PGlite database when unset).
import { migrateDatabase, openDatabase } from "./client.js";

const url = process.env.DATABASE_URL || undefined;
const handle = await openDatabase({ url, dataDir: process.env.PGLITE_DIR });
try {
  await migrateDatabase(handle);
  console.log(
    `migrations applied to ${url ? url.replace(/\/\/[^@/]*@/, "//***@") : `PGlite at ${process.env.PGLITE_DIR ?? ".data/pglite"}`}`,
  );
} finally {
  await handle.close();
}
