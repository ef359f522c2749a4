import { stepQueueName } from "@ensemble/queue";
import { Router } from "express";
import type { AppContext } from "../app-context.js";

/**
 * `GET /v1/providers`: the provider catalog — every provider a worker pool has served, its
 * queue, model allowlist, rate limits and live workers. No keys or base URLs: workers never
 * register them.
 */
export function providerRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get("/v1/providers", async (_req, res) => {
    const providers = await ctx.deps.providerCatalog.list();
    res.json({
      items: providers.map((p) => ({
        key: p.key,
        queue: stepQueueName(p.key),
        models: p.models,
        limits: p.limits,
        liveWorkers: p.liveWorkers.length,
        workers: p.liveWorkers.map((w) => ({
          id: w.workerId,
          startedAt: w.startedAt.toISOString(),
          heartbeatAt: w.heartbeatAt.toISOString(),
        })),
        lastSeenAt: p.lastSeenAt.toISOString(),
      })),
    });
  });
  return router;
}
