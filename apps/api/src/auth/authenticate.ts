import type { RequestHandler } from "express";
import { ApiError } from "../http/api-error.js";
import type { ApiKeyLookup } from "./api-key-lookup.js";
import { bearerToken, safeEqual } from "./api-keys.js";

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

/** Every /v1 route: the key names the user (see ApiKeyLookup). */
export function authenticate(keys: ApiKeyLookup): RequestHandler {
  return async (req, _res, next) => {
    const { userId, apiKeyId } = await keys.ownerOf(req.headers.authorization);
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
