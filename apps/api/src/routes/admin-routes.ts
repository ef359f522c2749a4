import {
  ApiKeyCreatedResponse,
  ApiKeyListResponse,
  ApiKeyResponse,
  UserLimitsResponse,
  UserResponse,
} from "@ensemble/core";
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
  type Database,
} from "@ensemble/db";
import { capPeriod } from "@ensemble/engine";
import { generateApiKey } from "../auth/api-keys.js";
import { ApiError } from "../http/api-error.js";
import { CreateUserBody, PutUserLimitsBody } from "@ensemble/core";
import type { Shape } from "../http/serialize.js";
import { defineRoute } from "./api-route.js";
import type { AppContext } from "../app-context.js";

/** `/v1/admin`: users, their API keys and limits (ADMIN_TOKEN as a bearer header; off without it). */
export const adminRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/admin/users",
    operationId: "createUser",
    tag: "admin",
    summary: "Create a user",
    auth: "admin",
    body: CreateUserBody,
    responses: { 201: { description: "the user", schema: UserResponse } },
    errors: [400, 409],
    handler: async ({ ctx, res, body }) => {
      const db = ctx.app.deps.db;
      const parsed = body();
      if (parsed.id && (await findUser(db, parsed.id))) throw new ApiError("conflict", `user ${parsed.id} exists`);
      const user = await insertUser(db, parsed);
      res.status(201).json({ id: user.id, name: user.name, createdAt: user.createdAt.toISOString() });
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/admin/users/{userId}/api-keys",
    operationId: "createApiKey",
    tag: "admin",
    summary: "Create an API key for a user",
    description: "The key is in this response only; it is stored as its SHA-256.",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 201: { description: "the new key", schema: ApiKeyCreatedResponse } },
    handler: async ({ ctx, res, params }) => {
      const db = ctx.app.deps.db;
      await requireUser(db, params.userId);
      const { key, prefix, hash } = generateApiKey();
      const { id } = await insertApiKey(db, { userId: params.userId, keyHash: hash, prefix });
      // The only time the key is shown: it is stored as a hash.
      res.status(201).json({ id, key, prefix });
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/admin/users/{userId}/api-keys",
    operationId: "listApiKeys",
    tag: "admin",
    summary: "List a user's API keys, revoked ones included, newest first",
    description: "Ids, prefixes and dates only: the secret is never stored.",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 200: { description: "the user's keys", schema: ApiKeyListResponse } },
    handler: async ({ ctx, res, params }) => {
      const db = ctx.app.deps.db;
      await requireUser(db, params.userId);
      res.json({ items: (await listApiKeys(db, params.userId)).map(serializeApiKey) });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/v1/admin/users/{userId}/api-keys/{keyId}",
    operationId: "revokeApiKey",
    tag: "admin",
    summary: "Revoke an API key",
    description:
      "From the next request on, the key is 401 `unauthorized` on the API process that answered, and within KEY_CACHE_TTL_MS (default 1 s) on every other. Revoking a revoked key changes nothing (it keeps its first `revokedAt`).",
    auth: "admin",
    pathParams: { userId: "the user", keyId: "the key's id (not the key)" },
    responses: { 200: { description: "the revoked key", schema: ApiKeyResponse } },
    handler: async ({ ctx, res, params }) => {
      const revoked = await revokeUserApiKey(ctx.app.deps.db, params.userId, params.keyId);
      if (!revoked) throw new ApiError("not_found", "API key not found");
      ctx.keys.forget(revoked.id);
      res.json(serializeApiKey(revoked));
    },
  }),
  defineRoute({
    method: "put",
    path: "/v1/admin/users/{userId}/limits",
    operationId: "putUserLimits",
    tag: "admin",
    summary: "Set a user's spend caps and step limit",
    description:
      "An absent field keeps its value, null clears it. Once the ledger's spend in the UTC day (dailyUsd) or UTC month (monthlyUsd) reaches a cap, the user's executes answer 402 `budget_exceeded` and their running runs stop at their next step commit.",
    auth: "admin",
    pathParams: { userId: "the user" },
    body: PutUserLimitsBody,
    responses: {
      200: { description: "the limits and the spend in each period", schema: UserLimitsResponse },
    },
    errors: [400],
    handler: async ({ ctx, res, params, body }) => {
      const db = ctx.app.deps.db;
      const parsed = body();
      await requireUser(db, params.userId);
      const current = await findUserLimits(db, params.userId);
      const limits = await upsertUserLimits(db, params.userId, {
        monthlyUsd: parsed.monthlyUsd === undefined ? (current?.monthlyUsd ?? null) : parsed.monthlyUsd,
        dailyUsd: parsed.dailyUsd === undefined ? (current?.dailyUsd ?? null) : parsed.dailyUsd,
        maxInFlightSteps:
          parsed.maxInFlightSteps === undefined ? (current?.maxInFlightSteps ?? null) : parsed.maxInFlightSteps,
      });
      res.json(await serializeLimits(ctx.app, params.userId, limits));
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/admin/users/{userId}/limits",
    operationId: "getUserLimits",
    tag: "admin",
    summary: "A user's spend caps and step limit, with the spend in each period",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 200: { description: "the limits", schema: UserLimitsResponse } },
    handler: async ({ ctx, res, params }) => {
      const db = ctx.app.deps.db;
      await requireUser(db, params.userId);
      res.json(await serializeLimits(ctx.app, params.userId, await findUserLimits(db, params.userId)));
    },
  }),
];

async function requireUser(db: Database, userId: string): Promise<void> {
  if (!(await findUser(db, userId))) throw new ApiError("not_found", "user not found");
}

/** A user's limits with what they have spent in each cap's current period. */
async function serializeLimits(
  ctx: AppContext,
  userId: string,
  limits: UserLimitsRow | undefined,
): Promise<Shape<typeof UserLimitsResponse>> {
  const now = new Date();
  const daily = capPeriod("daily", now);
  const monthly = capPeriod("monthly", now);
  const [dailySpent, monthlySpent] = await userSpendSince(ctx.deps.db, userId, [daily.start, monthly.start]);
  const spentIn = (period: { start: Date; end: Date }, usd: number | undefined) => ({
    usd: usd ?? 0,
    since: period.start.toISOString(),
    resetsAt: period.end.toISOString(),
  });
  return {
    userId,
    monthlyUsd: limits?.monthlyUsd ?? null,
    dailyUsd: limits?.dailyUsd ?? null,
    maxInFlightSteps: limits?.maxInFlightSteps ?? null,
    updatedAt: limits?.updatedAt.toISOString() ?? null,
    spent: { daily: spentIn(daily, dailySpent), monthly: spentIn(monthly, monthlySpent) },
  };
}

/** A key as an administrator sees it: its id and prefix, never the secret. */
function serializeApiKey(key: ApiKeySummary): Shape<typeof ApiKeyResponse> {
  return {
    id: key.id,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}
