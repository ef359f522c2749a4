import { Router } from "express";
import { ADMIN_COOKIE, requireAdmin } from "../auth/authenticate.js";
import { safeEqual } from "../auth/api-keys.js";
import { ApiError } from "../http/api-error.js";
import { createQueueBoard, QUEUE_BOARD_PATH } from "../ops/queue-board.js";
import type { AppContext } from "../app-context.js";

/** How long the Bull Board login lasts in the browser. */
const ADMIN_COOKIE_MAX_AGE_MS = 12 * 3_600_000;

/**
 * Bull Board at `/admin/queues` behind ADMIN_TOKEN (bearer header, or the cookie set by
 * `GET /admin/login?token=…`, since a browser cannot send a header by itself). Without
 * ADMIN_TOKEN every route here is 404.
 */
export function queueBoardRoutes(ctx: AppContext): Router {
  const router = Router();
  const adminToken = ctx.adminToken;

  router.get("/admin/login", (req, res) => {
    if (!adminToken) throw new ApiError("not_found", "admin routes are off: set ADMIN_TOKEN to enable them");
    const token = typeof req.query.token === "string" ? req.query.token : "";
    if (!token || !safeEqual(token, adminToken)) throw new ApiError("unauthorized", "admin token required: /admin/login?token=<ADMIN_TOKEN>");
    // HttpOnly: page scripts never see it; SameSite=Strict: other sites cannot make the
    // browser use it (the board has state-changing buttons); Path: only admin pages get it.
    res.cookie(ADMIN_COOKIE, token, { httpOnly: true, sameSite: "strict", secure: req.secure, path: "/admin", maxAge: ADMIN_COOKIE_MAX_AGE_MS });
    // The token was in this URL: keep it out of caches and of the next page's Referer.
    res.set({ "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" });
    res.redirect(303, QUEUE_BOARD_PATH);
  });

  router.get("/admin/logout", (_req, res) => {
    res.clearCookie(ADMIN_COOKIE, { path: "/admin" });
    res.set("Cache-Control", "no-store").json({ status: "logged out" });
  });

  // Built only when it can be reached; the board holds no connections of its own (it uses the producer's queues).
  const board = adminToken ? createQueueBoard(ctx.deps.producer.getQueues()) : null;
  router.use(QUEUE_BOARD_PATH, requireAdmin(adminToken), (req, res, next) => {
    if (!board) throw new ApiError("not_found", "admin routes are off: set ADMIN_TOKEN to enable them");
    res.set("Cache-Control", "no-store");
    board(req, res, next);
  });
  return router;
}
