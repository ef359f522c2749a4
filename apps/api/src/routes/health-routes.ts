import { Router } from "express";
import type { AppContext } from "../app-context.js";

export function healthRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const checks = await ctx.readiness();
    const ready = checks.redis && checks.postgres;
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks });
  });
  return router;
}
