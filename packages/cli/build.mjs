// Builds `ensemble` into one file with no runtime dependencies (dist/ensemble.mjs): the
// workspace packages and npm dependencies are bundled. CommonJS dependencies that call
// require() on Node built-ins get a real `require` in the ESM bundle.
import { build } from "esbuild";

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/ensemble.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifySyntax: true,
  banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
});
