// Sums the per-run counts left by scripts/jest-results-processor.cjs and prints one closing
// line, e.g. "tests: 12 passed, 0 failed, 1 skipped", which CI reads (jest prints no such line).
// Usage: node scripts/test-summary.mjs [resultsDir]   (exit 1 when anything failed)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const defaultResultsDir = join(repoRoot, ".turbo", "jest-results");

/** Adds up every results file in `dir`; `packages` lists which package names reported. */
export function sumResults(dir = defaultResultsDir) {
  const total = { passed: 0, failed: 0, skipped: 0, packages: new Set() };
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  for (const file of files) {
    const counts = JSON.parse(readFileSync(join(dir, file), "utf8"));
    total.passed += counts.passed;
    total.failed += counts.failed + counts.brokenSuites;
    total.skipped += counts.skipped;
    total.packages.add(counts.package);
  }
  return total;
}

/** The closing line itself: alone on its line, in the plain form CI recognises. */
export function formatSummary({ passed, failed, skipped }) {
  return `tests: ${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : "");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const total = sumResults(process.argv[2]);
  console.log(formatSummary(total));
  process.exitCode = total.failed > 0 ? 1 : 0;
}
