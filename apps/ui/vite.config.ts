import { defineConfig } from "vite";

// The API serves the built files at /ui (apps/api/src/routes/ui-routes.ts); nothing is
// fetched from a CDN at run time.
export default defineConfig({
  base: "/ui/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: { proxy: { "/v1": "http://127.0.0.1:3000" } },
});
