// `pnpm build`: dist/ becomes a self-contained production build, what the image holds in /app:
//   dist/{api,scheduler,worker,migrate}.mjs   each process's entry point compiled to one JavaScript file (esbuild)
//   dist/healthcheck.mjs                      the image's HEALTHCHECK
//   dist/node_modules                         the production dependencies only, flat (hoisted)
//   dist/packages/db/migrations, dist/apps/ui/dist   files read at run time
// Production runs `node dist/api.mjs` (and so on): no TypeScript compiler in memory or on disk;
// tsx stays for development. The workspace's own code is bundled, and drizzle-orm (see
// BUNDLED_NPM_PACKAGES); other npm packages stay imports resolved from dist/node_modules (some
// read files beside their code: Bull Board's UI, PGlite's WebAssembly). The run viewer
// (apps/ui/dist) must be built first: `pnpm build` does both.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Role → entry point; dist/<role>.mjs is its bundle. `api` is also the all-in-one process
 * (ROLES=all). A JSON file, so the deployment tests can check every command names one.
 */
export const ENTRY_POINTS = JSON.parse(readFileSync(join(root, "scripts/entry-points.json"), "utf8"));

/** Files read at run time, at the same place under dist/ as under the checkout. */
const RUNTIME_ASSETS = ["packages/db/migrations", "apps/ui/dist"];

/**
 * A bundled module's `import.meta` is the bundle's. Code that finds files beside its source
 * (the migrations, the run viewer) gets a URL as if its source file sat at the same place under
 * dist/ as under the checkout, where RUNTIME_ASSETS are copied.
 */
const sourceRelativeImportMeta = {
  name: "source-relative-import-meta",
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes("/node_modules/")) return undefined;
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta.")) return undefined;
      const fileUrl = `new URL(${JSON.stringify(`./${relative(root, args.path)}`)}, import.meta.url)`;
      return {
        loader: "ts",
        contents: source
          .replaceAll("import.meta.url", `${fileUrl}.href`)
          .replaceAll("import.meta.dirname", `decodeURIComponent(new URL(".", ${fileUrl}).pathname.slice(0, -1))`),
      };
    });
  },
};

/**
 * npm packages bundled like the workspace's own code. Node's ESM resolver parses a package's
 * package.json "exports" again for every module of it that it resolves: drizzle-orm's is
 * 179 KB and a process imports ~100 of its modules, ~150 MB of garbage at start that grew
 * V8's young generation to its largest (an idle worker at ~300 MB RSS until V8's memory
 * reducer shrank it, tens of seconds later). drizzle-orm reads no file at run time.
 */
const BUNDLED_NPM_PACKAGES = ["drizzle-orm"];

const bundled = (specifier) =>
  specifier.startsWith("@ensemble/") ||
  BUNDLED_NPM_PACKAGES.some((name) => specifier === name || specifier.startsWith(`${name}/`));

/** Leaves every other npm package an import: `@ensemble/*`, BUNDLED_NPM_PACKAGES and relative paths are bundled. */
const externalNpmPackages = {
  name: "external-npm-packages",
  setup(esbuild) {
    esbuild.onResolve({ filter: /^[^./]/ }, (args) =>
      bundled(args.path) ? undefined : { path: args.path, external: true },
    );
  },
};

/** Builds dist/ (or `outdir`) from scratch. */
export async function buildDist(outdir = join(root, "dist")) {
  rmSync(outdir, { recursive: true, force: true });
  installProductionDependencies(outdir);
  await build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Names kept so stack traces and pino's `err.type` read as in the source.
    keepNames: true,
    sourcemap: "linked",
    plugins: [externalNpmPackages, sourceRelativeImportMeta],
    logLevel: "warning",
  });
  cpSync(join(root, "scripts/healthcheck.mjs"), join(outdir, "healthcheck.mjs"));
  for (const asset of RUNTIME_ASSETS) {
    if (!existsSync(join(root, asset)))
      throw new Error(`${asset} is missing: run \`pnpm build\`, which builds it first`);
    cpSync(join(root, asset), join(outdir, asset), { recursive: true });
  }
}

function installProductionDependencies(outdir) {
  // apps/api depends on every workspace package the other roles use, so its production
  // dependencies serve all four bundles; hoisted puts each package where dist/*.mjs imports it.
  execFileSync(
    "pnpm",
    ["--filter", "@ensemble/api", "deploy", "--prod", "--offline", "--config.node-linker=hoisted", outdir],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
  // pnpm deploy copies apps/api's own files and the workspace packages' TypeScript sources:
  // the bundles hold that code. TypeScript comes as valibot's optional peer (types only).
  const unused = ["src", "test", "jest.config.cjs", "tsconfig.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"];
  for (const entry of [...unused, "node_modules/@ensemble", "node_modules/typescript"]) {
    rmSync(join(outdir, entry), { recursive: true, force: true });
  }
  // "type": "module" stays; the start scripts would run tsx, which production does not have.
  const manifest = JSON.parse(readFileSync(join(outdir, "package.json"), "utf8"));
  const { scripts: _scripts, devDependencies: _dev, ...kept } = manifest;
  writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ ...kept, name: "ensemble-dist" }, null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // --out DIR: the same build elsewhere (the built-cluster test uses a temporary folder).
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const outdir = resolve(values.out ?? join(root, "dist"));
  const started = Date.now();
  await buildDist(outdir);
  const files = Object.keys(ENTRY_POINTS).map((role) => `${role}.mjs`);
  console.log(`${relative(root, outdir) || "."}/: ${files.join(", ")} (${Date.now() - started} ms)`);
}
