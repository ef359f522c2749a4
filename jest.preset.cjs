// Shared jest settings: TypeScript through @swc/jest to CommonJS (fast; ts-jest
// does not follow TypeScript 6+), and ".js" import suffixes mapped to sources.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: {
    "^.+\\.(t|j)sx?$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2022" },
        module: { type: "commonjs" },
      },
    ],
  },
  // ESM-only dependencies are transpiled too, so CommonJS tests can load them.
  transformIgnorePatterns: [
    "/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(@marcbachmann/cel-js|eventsource-parser)/)",
  ],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testMatch: ["<rootDir>/src/**/*.test.ts", "<rootDir>/test/**/*.test.ts"],
  // Leaves per-run counts for the root "N passed, N failed" line (see scripts/run-tests.mjs).
  testResultsProcessor: require.resolve("./scripts/jest-results-processor.cjs"),
};
