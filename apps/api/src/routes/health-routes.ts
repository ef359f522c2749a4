import { Router } from "express";
import type { AppContext } from "../app-context.js";

export function healthRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const checks = await ctx.readiness();
    if (ctx.shutdown?.aborted) {
      // Out of the load balancer first, before anything else of the drain.
      res
        .status(503)
        .set("Retry-After", "1")
        .json({ status: "draining", checks, message: "not ready: this process is shutting down" });
      return;
    }
    const down = Object.entries(checks)
      .filter(([, up]) => !up)
      .map(([name]) => name);
    if (down.length === 0) {
      res.json({ status: "ready", checks });
      return;
    }
    // Names what is down, so an operator reading the probe knows where to look.
    res
      .status(503)
      .set("Retry-After", "5")
      .json({
        status: "unavailable",
        checks,
        down,
        message: checks.redisFull
          ? `not ready: redis is full (at its maxmemory)${checks.postgres ? "" : " and postgres unreachable"}`
          : `not ready: ${down.join(" and ")} unreachable`,
      });
  });
  return router;
}
