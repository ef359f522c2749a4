import { defineConfig } from "drizzle-kit";

// `pnpm --filter @ensemble/db db:generate` writes a new SQL migration from the schema.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema/tables.ts",
  out: "./migrations",
});
