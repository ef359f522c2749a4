import type { Request, RequestHandler } from "express";
import { ApiError } from "../http/api-error.js";
import type { AdminSessions } from "./admin-sessions.js";
import { bearerToken, safeEqual } from "./api-keys.js";

/** The cookie `GET /admin/login?token=…` sets for Bull Board: a session id, never the token. */
export const ADMIN_SESSION_COOKIE = "ensemble_admin";

/** Methods that change nothing: the only ones a page on another origin may have the browser send with the cookie. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Bull Board (`/admin/queues`): the ADMIN_TOKEN as a bearer header (scripts), or a login
 * session cookie (browsers). A cookie is sent by the browser on its own, so a request that
 * changes something on its strength must come from the board's own page (see
 * `isSameOriginRequest`); a bearer header is never sent by itself, so it needs no check.
 */
export function requireBoardAccess(adminToken: string, sessions: AdminSessions | undefined): RequestHandler {
  return async (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token) {
      if (!safeEqual(token, adminToken)) throw new ApiError("unauthorized", "admin token required");
      next();
      return;
    }
    const sessionId = readCookie(req.headers.cookie, ADMIN_SESSION_COOKIE);
    if (!sessionId || !sessions || !(await sessions.isValid(sessionId)))
      throw new ApiError("unauthorized", "admin token required");
    if (!SAFE_METHODS.has(req.method) && !isSameOriginRequest(req)) {
      throw new ApiError("forbidden", "Bull Board's actions must come from its own page", [
        { path: "Origin", message: "must be this server's origin (a same-origin request)" },
      ]);
    }
    next();
  };
}

/**
 * CSRF check for cookie-authenticated writes. SameSite=Strict stops other *sites*, but a
 * page on another port or subdomain of the same site is "same-site" and gets the cookie
 * sent. Browsers say where a request comes from in Sec-Fetch-Site (page scripts cannot
 * set it); those that predate it send Origin on every POST/PUT/PATCH/DELETE, compared by
 * host (a TLS-terminating proxy may leave the scheme as http here). Neither header: not a
 * browser's request from the board, refused. Bull Board's UI (axios, same origin) passes.
 */
export function isSameOriginRequest(req: Request): boolean {
  const site = req.get("sec-fetch-site");
  if (site !== undefined) return site === "same-origin";
  const origin = req.get("origin");
  if (origin === undefined) return false;
  try {
    return new URL(origin).host === req.host;
  } catch {
    return false; // "null" (sandboxed frames, file:) or garbage
  }
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join("="));
    } catch {
      return null; // a malformed cookie is no session (401), not a server error
    }
  }
  return null;
}
