import {
  findUser,
  findUserLimits,
  insertApiKey,
  insertUser,
  listApiKeys,
  revokeUserApiKey,
  upsertUserLimits,
  userSpendSince,
  type ApiKeySummary,
  type UserLimitsRow,
} from "@ensemble/db";
import { capPeriod } from "@ensemble/engine";
import { Router } from "express";
import { generateApiKey } from "../auth/api-keys.js";
import type { ApiKeyLookup } from "../auth/api-key-lookup.js";
import { requireAdmin } from "../auth/authenticate.js";
import { ApiError } from "../http/api-error.js";
import { parseRequest } from "../http/validate.js";
import { CreateUserBody, PutUserLimitsBody } from "../http/request-schemas.js";
import type { AppContext } from "../app-context.js";

export function adminRoutes(ctx: AppContext, keys: ApiKeyLookup): Router {
  const router = Router();
  router.use("/v1/admin", requireAdmin(ctx.adminToken));
  router.post("/v1/admin/users", async (req, res) => {
    const body = parseRequest(CreateUserBody, req.body);
    if (body.id && (await findUser(ctx.deps.db, body.id))) throw new ApiError("conflict", `user ${body.id} exists`);
    const user = await insertUser(ctx.deps.db, body);
    res.status(201).json({ id: user.id, name: user.name, createdAt: user.createdAt.toISOString() });
  });
  router.post("/v1/admin/users/:userId/api-keys", async (req, res) => {
    if (!(await findUser(ctx.deps.db, req.params.userId))) throw new ApiError("not_found", "user not found");
    const { key, prefix, hash } = generateApiKey();
    const { id } = await insertApiKey(ctx.deps.db, { userId: req.params.userId, keyHash: hash, prefix });
    // The only time the key is shown: it is stored as a hash.
    res.status(201).json({ id, key, prefix });
  });
  router.get("/v1/admin/users/:userId/api-keys", async (req, res) => {
    if (!(await findUser(ctx.deps.db, req.params.userId))) throw new ApiError("not_found", "user not found");
    const keys = await listApiKeys(ctx.deps.db, req.params.userId);
    res.json({ items: keys.map(serializeApiKey) });
  });
  router.delete("/v1/admin/users/:userId/api-keys/:keyId", async (req, res) => {
    const revoked = await revokeUserApiKey(ctx.deps.db, req.params.userId, req.params.keyId);
    if (!revoked) throw new ApiError("not_found", "API key not found");
    keys.forget(revoked.id);
    res.json(serializeApiKey(revoked));
  });
  router.put("/v1/admin/users/:userId/limits", async (req, res) => {
    const body = parseRequest(PutUserLimitsBody, req.body);
    if (!(await findUser(ctx.deps.db, req.params.userId))) throw new ApiError("not_found", "user not found");
    const current = await findUserLimits(ctx.deps.db, req.params.userId);
    const limits = await upsertUserLimits(ctx.deps.db, req.params.userId, {
      monthlyUsd: body.monthlyUsd === undefined ? (current?.monthlyUsd ?? null) : body.monthlyUsd,
      dailyUsd: body.dailyUsd === undefined ? (current?.dailyUsd ?? null) : body.dailyUsd,
      maxInFlightSteps:
        body.maxInFlightSteps === undefined ? (current?.maxInFlightSteps ?? null) : body.maxInFlightSteps,
    });
    res.json(await serializeLimits(ctx, req.params.userId, limits));
  });
  router.get("/v1/admin/users/:userId/limits", async (req, res) => {
    if (!(await findUser(ctx.deps.db, req.params.userId))) throw new ApiError("not_found", "user not found");
    res.json(await serializeLimits(ctx, req.params.userId, await findUserLimits(ctx.deps.db, req.params.userId)));
  });
  return router;
}

/** A user's limits with what they have spent in each cap's current period. */
async function serializeLimits(
  ctx: AppContext,
  userId: string,
  limits: UserLimitsRow | undefined,
): Promise<Record<string, unknown>> {
  const now = new Date();
  const periods = (["daily", "monthly"] as const).map((period) => ({ period, ...capPeriod(period, now) }));
  const spent = await userSpendSince(
    ctx.deps.db,
    userId,
    periods.map((p) => p.start),
  );
  return {
    userId,
    monthlyUsd: limits?.monthlyUsd ?? null,
    dailyUsd: limits?.dailyUsd ?? null,
    maxInFlightSteps: limits?.maxInFlightSteps ?? null,
    updatedAt: limits?.updatedAt.toISOString() ?? null,
    spent: Object.fromEntries(
      periods.map((p, i) => [
        p.period,
        { usd: spent[i] ?? 0, since: p.start.toISOString(), resetsAt: p.end.toISOString() },
      ]),
    ),
  };
}

/** A key as an administrator sees it: its id and prefix, never the secret. */
function serializeApiKey(key: ApiKeySummary): Record<string, unknown> {
  return {
    id: key.id,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}
