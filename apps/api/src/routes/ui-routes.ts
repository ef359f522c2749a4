import { existsSync } from "node:fs";
import { resolve } from "node:path";
import express, { Router } from "express";
import { ApiError } from "../http/api-error.js";
import { runViewerContentSecurityPolicy } from "../http/security-headers.js";

/** apps/ui/dist, from apps/api/src/routes (or apps/api/dist/routes once compiled). */
const DEFAULT_UI_DIR = resolve(import.meta.dirname, "../../../ui/dist");

/**
 * The run viewer at /ui: static files built by Vite (apps/ui). It calls the /v1 API with
 * the key the user signs in with, so it can show nothing the key could not read.
 */
export function uiRoutes(dir = DEFAULT_UI_DIR): Router {
  const router = Router();
  // Relative asset URLs resolve against /ui/, so /ui itself (which Express also matches for /ui/) redirects.
  router.get("/ui", (req, res, next) => (req.path === "/ui" ? res.redirect(301, "/ui/") : next()));
  if (!existsSync(resolve(dir, "index.html"))) {
    router.use("/ui", () => {
      throw new ApiError("not_found", "the run viewer is not built: run `pnpm --filter @ensemble/ui build`");
    });
    return router;
  }
  // Vite names assets by content hash: they can be cached for good; index.html never.
  router.use(
    "/ui",
    runViewerContentSecurityPolicy,
    express.static(dir, {
      index: "index.html",
      redirect: false,
      setHeaders: (res, path) =>
        res.set("Cache-Control", path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache"),
    }),
  );
  return router;
}
