import { Router } from "express";
import type { HttpMetrics } from "../ops/http-metrics.js";
import { PrometheusMetrics } from "../ops/prometheus-metrics.js";
import type { AppContext } from "../app-context.js";

/**
 * `GET /metrics` in the Prometheus text format. No auth, like most exporters: serve it on
 * the internal network only (it names providers and models, never a prompt or a key).
 */
export function metricsRoutes(ctx: AppContext, http: HttpMetrics): Router {
  const router = Router();
  const metrics = new PrometheusMetrics(ctx.deps, http.registry);
  router.get("/metrics", async (_req, res) => {
    const body = await metrics.scrape();
    res.set("Content-Type", metrics.contentType).set("Cache-Control", "no-store").send(body);
  });
  return router;
}
