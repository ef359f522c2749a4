import { findUserByKeyHash, type Database } from "@ensemble/db";
import type { RequestHandler } from "express";
import { ApiError } from "../http/api-error.js";
import { bearerToken, hashApiKey, safeEqual } from "./api-keys.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's documented way to type request fields
  namespace Express {
    interface Request {
      /** The caller, from the API key; never from the body. */
      userId?: string;
      /** The id (not the secret) of the API key used: per-key rate limits count by it. */
      apiKeyId?: string;
    }
  }
}

/**
 * The user an `Authorization: Bearer <key>` header names, for the WebSocket upgrade
 * as well as for the /v1 middleware: one lookup, the same 401s.
 */
export async function userForAuthorization(
  db: Database,
  header: string | undefined,
): Promise<{ userId: string; apiKeyId: string }> {
  const token = bearerToken(header);
  if (!token) throw new ApiError("unauthorized", "send an API key: Authorization: Bearer <key>");
  const found = await findUserByKeyHash(db, hashApiKey(token));
  if (!found) throw new ApiError("unauthorized", "the API key is unknown or revoked");
  return { userId: found.userId, apiKeyId: found.keyId };
}

/**
 * Every /v1 route: the key names the user. Lookup is by the key's SHA-256 (a unique
 * index), so the database never compares the secret itself; unknown and revoked keys
 * get the same 401.
 */
export function authenticate(db: Database): RequestHandler {
  return async (req, _res, next) => {
    const { userId, apiKeyId } = await userForAuthorization(db, req.headers.authorization);
    req.userId = userId;
    req.apiKeyId = apiKeyId;
    next();
  };
}

/**
 * `/v1/admin/*`: the ADMIN_TOKEN as a bearer header only (a Bull Board login cookie opens
 * the board, nothing else); off when the token is unset.
 */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!adminToken) throw new ApiError("not_found", "admin routes are off: set ADMIN_TOKEN to enable them");
    const token = bearerToken(req.headers.authorization);
    if (!token || !safeEqual(token, adminToken)) throw new ApiError("unauthorized", "admin token required");
    next();
  };
}
