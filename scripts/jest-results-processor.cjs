// Jest testResultsProcessor (wired in jest.preset.cjs). When JEST_RESULTS_DIR is set —
// scripts/run-tests.mjs sets it — each jest run leaves its counts there, so the root can
// print one "N passed, N failed" line for all packages (jest's own summary is per package).
const fs = require("node:fs");
const path = require("node:path");

module.exports = function writeJestCounts(results) {
  const dir = process.env.JEST_RESULTS_DIR;
  if (!dir) return results;
  let name = path.basename(process.cwd());
  try {
    name = JSON.parse(fs.readFileSync("package.json", "utf8")).name ?? name;
  } catch {
    // no package.json in cwd: keep the folder name
  }
  const counts = {
    package: name,
    passed: results.numPassedTests,
    failed: results.numFailedTests,
    skipped: results.numPendingTests + results.numTodoTests,
    // A suite that could not run (syntax error, import failure) has no failed tests; count it.
    brokenSuites: results.numRuntimeErrorTestSuites,
  };
  fs.mkdirSync(dir, { recursive: true });
  // The pid keeps two jest runs of one package (e.g. unit + integration) from overwriting each other.
  const file = path.join(dir, `${name.replace(/[^\w.-]+/g, "_")}.${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify(counts) + "\n");
  return results;
};
