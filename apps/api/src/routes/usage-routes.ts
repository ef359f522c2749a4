import { capPeriod } from "@ensemble/engine";
import { userUsage } from "@ensemble/db";
import { Router } from "express";
import { UsageQuery } from "../http/request-schemas.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

/** The caller's spend and tokens from the ledger (what they were billed for, as the executing user). */
export function usageRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get("/v1/usage", async (req, res) => {
    const query = parseRequest(UsageQuery, req.query);
    const now = new Date();
    // Default: this UTC month so far, the period of a monthly cap.
    const from = query.from ? new Date(query.from) : capPeriod("monthly", now).start;
    const to = query.to ? new Date(query.to) : now;
    const userId = req.userId as string;
    const [[total], groups] = await Promise.all([
      userUsage(ctx.deps.db, userId, from, to),
      query.groupBy ? userUsage(ctx.deps.db, userId, from, to, query.groupBy) : Promise.resolve([]),
    ]);
    const { key: _none, ...totals } = total ?? {
      key: null,
      costUsd: 0,
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      calls: 0,
    };
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      groupBy: query.groupBy ?? null,
      total: totals,
      groups: groups.map((g) => ({ ...g, key: g.key ?? "" })),
    });
  });
  return router;
}
