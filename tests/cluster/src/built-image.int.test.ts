import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase } from "@ensemble/db/testing";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster, freePort, REPO_ROOT } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant } from "./tenants.js";

/**
 * What the image runs, without Docker: `pnpm build` (the Dockerfile's build stage) into a
 * folder, then the migration and the API, scheduler and workers as `node <role>.mjs` with
 * NODE_ENV=production, only production dependencies on disk, and no TypeScript anywhere.
 */
describe("the production build (the image's /app)", () => {
  const out = mkdtempSync(join(tmpdir(), "ensemble-build-"));
  let cluster: Cluster;

  beforeAll(async () => {
    execFileSync("pnpm", ["build", "--out", out], { cwd: REPO_ROOT, stdio: "pipe" });
    cluster = await Cluster.start({ built: out, workers: 2, env: { ADMIN_TOKEN } });
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it("holds production dependencies only, and no TypeScript", () => {
    const manifest = JSON.parse(readFileSync(join(out, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.devDependencies).toBeUndefined();
    for (const devOnly of ["tsx", "typescript", "esbuild", "jest", "@swc/core", "drizzle-kit", "playwright-core"]) {
      expect([devOnly, existsSync(join(out, "node_modules", devOnly))]).toEqual([devOnly, false]);
    }
    const found = spawnSync("find", [
      out,
      "-name",
      "*.ts",
      "-not",
      "-name",
      "*.d.ts",
      "-not",
      "-path",
      "*/node_modules/*",
    ]);
    expect(found.stdout.toString()).toBe("");
  });

  it("migrates a fresh database as the migration job does", async () => {
    const database = await createTestDatabase();
    try {
      const run = spawnSync(process.execPath, [join(out, "migrate.mjs")], {
        cwd: out,
        env: { ...process.env, NODE_ENV: "production", DATABASE_URL: database.url },
        encoding: "utf8",
      });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
      expect(run.stdout).toContain("migrations applied");
    } finally {
      await database.drop();
    }
  });

  it("runs a flow to completion across the built processes, with no dev user", async () => {
    const apiLog = readFileSync(cluster.byName("api").logFile, "utf8");
    expect(apiLog).not.toContain("Development API key");
    const anonymous = await fetch(`${cluster.baseUrl}/v1/templates`);
    expect(anonymous.status).toBe(401);

    const tenant = await createTenant(cluster.baseUrl, "operator");
    const api = new ApiClient(cluster.baseUrl, tenant.key);
    const threadId = await api.createThread();
    const flowId = await api.createFlow(threadId, {
      name: "fan-out",
      type: "parallel",
      steps: [simStep("a"), simStep("b"), simStep("merge", { aggregate: true })],
    });
    const res = await api.execute(flowId, { input: "built" }, true);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "completed" });
    const outputs = (res.body.steps as { stepId: string; status: string }[]).map((s) => [s.stepId, s.status]);
    expect(outputs.sort()).toEqual([
      ["a", "success"],
      ["b", "success"],
      ["merge", "success"],
    ]);
    // The run viewer's files and Bull Board's UI are found from the bundle.
    expect((await fetch(`${cluster.baseUrl}/ui/`)).status).toBe(200);
    const board = await fetch(`${cluster.baseUrl}/admin/queues`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(board.status).toBe(200);
  });

  it("answers the image's HEALTHCHECK: 0 while the process serves /healthz, 1 when nothing listens", async () => {
    const check = (port: number): number | null =>
      spawnSync(process.execPath, [join(out, "healthcheck.mjs")], { env: { ...process.env, PORT: String(port) } })
        .status;
    expect(check(cluster.port)).toBe(0);
    expect(check(await freePort())).toBe(1);
  });
});
