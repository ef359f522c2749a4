// @ts-check
// ESLint flat config for the whole monorepo; `pnpm lint` runs `eslint .` from the root.
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  // Generated output, local data and CommonJS config files (jest.config.cjs, the preset) are not source.
  globalIgnores(["**/node_modules/", "**/dist/", "**/.turbo/", "**/.data/", "**/coverage/", "**/*.cjs"]),

  // Rules for every linted file, JS and TS alike.
  {
    rules: {
      // Flow conditions are CEL, never JavaScript: nothing may turn a string into code.
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              // Each package's public surface is its src/index.ts; deep imports bypass it.
              group: ["@ensemble/*/src", "@ensemble/*/src/*"],
              message: "Import the package entry (e.g. @ensemble/core), not its src/ files.",
            },
            {
              // Same rule for relative paths that climb into another workspace package.
              regex: "^(\\.\\./)+(packages|apps)/",
              message: "Import the workspace package by name (@ensemble/x), not by relative path.",
            },
            {
              // Apps are deployables, not libraries.
              group: ["@ensemble/api", "@ensemble/scheduler", "@ensemble/worker"],
              message: "Apps never import apps; move shared code into a package.",
            },
          ],
        },
      ],
    },
  },

  // TypeScript: type-aware rules. The project service finds each file's nearest tsconfig.json
  // (packages/*, apps/*), so a .ts file outside every tsconfig's "include" is a lint error.
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.mts", "**/*.cts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: {
          // Helper scripts and tool configs (e.g. drizzle.config.ts) sit outside every package's
          // "include"; type-check them with the base options.
          allowDefaultProject: ["scripts/*.ts", "scripts/bench/*.ts", "packages/*/*.config.ts", "apps/*/*.config.ts"],
          defaultProject: "tsconfig.base.json",
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A dropped promise in a worker is a lost job or an unhandled rejection: always an error.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // `any` should be rare and visible, but not block a build.
      "@typescript-eslint/no-explicit-any": "warn",
      // Untyped data enters at the edges (JSON, HTTP bodies, job payloads) and is parsed by zod
      // there; flagging every step before that parse is noise, so the no-unsafe-* family is off.
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Async methods that implement an interface (fakes, adapters) need not await anything.
      "@typescript-eslint/require-await": "off",
      // `_`-prefixed names are deliberately unused (e.g. Express's 4-argument error handler).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
    },
  },

  // Tests: jest's `expect(obj.method)` passes methods around unbound on purpose.
  {
    files: ["**/*.test.ts"],
    rules: { "@typescript-eslint/unbound-method": "off" },
  },
);
