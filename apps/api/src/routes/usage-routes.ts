import { apiContract } from "@ensemble/core";
import { capPeriod } from "@ensemble/engine";
import { userUsage } from "@ensemble/db";
import { defineRoute } from "./api-route.js";

/** The caller's spend and tokens from the ledger (what they were billed for, as the executing user). */
export const usageRoutes = [
  defineRoute({
    ...apiContract.getUsage,
    tag: "usage",
    summary: "The caller's spend and tokens from the ledger, optionally grouped",
    description: "Default period: this UTC month so far. Usage is billed to the user who executed each run.",
    auth: "apiKey",
    errors: [400],
    handler: async ({ ctx, res, userId, query }) => {
      const db = ctx.app.deps.db;
      const parsed = query();
      const now = new Date();
      // Default: this UTC month so far, the period of a monthly cap.
      const from = parsed.from ? new Date(parsed.from) : capPeriod("monthly", now).start;
      const to = parsed.to ? new Date(parsed.to) : now;
      const [[total], groups] = await Promise.all([
        userUsage(db, userId, from, to),
        parsed.groupBy ? userUsage(db, userId, from, to, parsed.groupBy) : Promise.resolve([]),
      ]);
      const { key: _none, ...totals } = total ?? {
        key: null,
        costUsd: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        calls: 0,
        cutOffCalls: 0,
        cutOffCostUsd: 0,
      };
      res.json({
        from: from.toISOString(),
        to: to.toISOString(),
        groupBy: parsed.groupBy ?? null,
        total: totals,
        groups: groups.map((g) => ({ ...g, key: g.key ?? "" })),
      });
    },
  }),
];
