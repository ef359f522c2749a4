import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, DEV_KEY, REPO_ROOT } from "./cluster-harness.js";

const run = promisify(execFile);

/**
 * The SDK as a user outside this repo gets it: packed into a tarball, installed with npm
 * into an empty project, and used by a plain ESM program against a live cluster.
 */
describe("@ensemble/sdk installed from its packed tarball", () => {
  let cluster: Cluster;
  let project: string;

  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), "ensemble-sdk-user-"));
    const packed = await run("pnpm", ["--filter", "@ensemble/sdk", "pack", "--pack-destination", project], {
      cwd: REPO_ROOT,
    });
    const tarball = /\S+\.tgz/.exec(
      packed.stdout
        .split("\n")
        .reverse()
        .find((line) => line.endsWith(".tgz")) ?? "",
    );
    if (!tarball) throw new Error(`pnpm pack printed no tarball:\n${packed.stdout}`);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-service", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball[0]], { cwd: project });
    copyFileSync(join(REPO_ROOT, "examples/standalone/run-flow.mjs"), join(project, "run-flow.mjs"));
    cluster = await Cluster.start({ workers: 1 });
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("has built ESM and types, no workspace dependency, and leaves the tokenizer and CEL out", () => {
    const installed = join(project, "node_modules/@ensemble/sdk");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      exports: Record<string, { types: string; import: string }>;
    };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["eventsource-parser", "zod"]);
    expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
    expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    const code = readFileSync(join(installed, "dist/index.js"), "utf8");
    expect(code).not.toMatch(/js-tiktoken|cel-js|re2js/);
    expect(readFileSync(join(installed, "dist/index.d.ts"), "utf8")).not.toContain("@ensemble/core");
  });

  it("type-checks a program against the installed declarations, and catches a wrong call", async () => {
    // A call the declarations forbid, next to the example: the types are real, not `any`.
    writeFileSync(
      join(project, "wrong.mjs"),
      '// @ts-check\nimport { EnsembleClient } from "@ensemble/sdk";\nnew EnsembleClient({ baseUrl: 1 });\n',
    );
    const tsc = join(REPO_ROOT, "node_modules/typescript/bin/tsc");
    const typeRoots = join(REPO_ROOT, "node_modules/@types");
    const args = ["--noEmit", "--allowJs", "--checkJs", "--strict", "--module", "nodenext", "--target", "es2022"];
    const checked = await run(
      process.execPath,
      [tsc, ...args, "--types", "node", "--typeRoots", typeRoots, "run-flow.mjs", "wrong.mjs"],
      {
        cwd: project,
      },
    ).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    const errorLines = checked.split("\n").filter((line) => /error TS/.test(line));
    expect(errorLines).toEqual([
      expect.stringMatching(/^wrong\.mjs\(3,.*Type 'number' is not assignable to type 'string'/),
    ]);
  }, 120_000);

  it("runs a flow against a live cluster", async () => {
    const { stdout } = await run(process.execPath, ["run-flow.mjs", "ship it"], {
      cwd: project,
      env: { ...process.env, ENSEMBLE_URL: cluster.baseUrl, ENSEMBLE_API_KEY: DEV_KEY },
    });
    expect(stdout).toContain("[flow_start]");
    expect(stdout).toContain("[step_complete] tighten");
    expect(stdout).toMatch(/output: .*Tighten: .*Draft: ship it/s);
    expect(stdout).toMatch(/cost: \$\d+\.\d{6}/);
  }, 60_000);
});
