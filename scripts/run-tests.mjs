// `pnpm test`: runs every package's jest through turbo, then prints one summary line
// ("tests: N passed, N failed") — also when tests fail — and exits non-zero on any failure.
// Extra arguments go to turbo, e.g. `pnpm test -- --filter=@ensemble/core` (without the `--`,
// pnpm takes --filter for itself).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defaultResultsDir, formatSummary, repoRoot, sumResults } from "./test-summary.mjs";

// Stale counts from an earlier run must not leak into this one.
rmSync(defaultResultsDir, { recursive: true, force: true });

// `pnpm test -- --filter=x` hands the script a literal "--"; turbo would pass what follows to jest.
const turboArgs = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
const turbo = spawnSync(
  join(repoRoot, "node_modules", ".bin", "turbo"),
  // One package at a time: integration tests share the one Redis and Postgres on a 2-core box.
  // --continue: a failing package must not hide the results of the ones after it.
  ["run", "test", "--concurrency=1", "--continue", ...turboArgs],
  { cwd: repoRoot, stdio: "inherit", env: { ...process.env, JEST_RESULTS_DIR: defaultResultsDir } },
);
if (turbo.error) console.error(`run-tests: could not start turbo: ${turbo.error.message}`);

const total = sumResults();

// A package whose jest crashed before finishing (bad config, global setup threw) leaves no
// counts; on a full run, count each such package as one failure so the line cannot say 0.
if (turboArgs.length === 0) {
  for (const pkg of workspacePackagesWithTests()) {
    if (!total.packages.has(pkg)) {
      console.error(`run-tests: ${pkg} reported no results (its test run crashed?)`);
      total.failed += 1;
    }
  }
}

// Whatever went wrong (e.g. jest rejected an argument), a failed run never reports 0 failed.
if (turbo.status !== 0 && total.failed === 0) {
  console.error("run-tests: turbo failed but no test failure was recorded; see the output above");
  total.failed = 1;
}

console.log(formatSummary(total));
process.exit(turbo.status !== 0 || total.failed > 0 ? 1 : 0);

/** Names of the workspace packages (see pnpm-workspace.yaml: apps/*, packages/*) with a test script. */
function workspacePackagesWithTests() {
  const names = [];
  for (const group of ["apps", "packages"]) {
    const groupDir = join(repoRoot, group);
    if (!existsSync(groupDir)) continue;
    for (const dir of readdirSync(groupDir)) {
      const manifest = join(groupDir, dir, "package.json");
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, "utf8"));
      if (pkg.scripts?.test) names.push(pkg.name);
    }
  }
  return names;
}
