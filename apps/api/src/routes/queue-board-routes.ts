import { Router } from "express";
import { ADMIN_SESSION_COOKIE, readCookie, requireBoardAccess } from "../auth/queue-board-auth.js";
import { safeEqual } from "../auth/api-keys.js";
import { ApiError } from "../http/api-error.js";
import { queueBoardContentSecurityPolicy } from "../http/security-headers.js";
import { createQueueBoard, QUEUE_BOARD_PATH } from "../ops/queue-board.js";
import type { AppContext } from "../app-context.js";

/** The login cookie's scope: the board and the logout route, nothing else. */
const COOKIE_PATH = "/admin";

/**
 * Bull Board at `/admin/queues` behind ADMIN_TOKEN (bearer header, or the session cookie
 * set by `GET /admin/login?token=…`, since a browser cannot send a header by itself).
 * Without ADMIN_TOKEN every route here is 404.
 */
export function queueBoardRoutes(ctx: AppContext): Router {
  const router = Router();
  const { adminToken, adminSessions } = ctx;
  const off = (): ApiError => new ApiError("not_found", "admin routes are off: set ADMIN_TOKEN to enable them");

  router.get("/admin/login", async (req, res) => {
    if (!adminToken || !adminSessions) throw off();
    const token = typeof req.query.token === "string" ? req.query.token : "";
    if (!token || !safeEqual(token, adminToken))
      throw new ApiError("unauthorized", "admin token required: /admin/login?token=<ADMIN_TOKEN>");
    // HttpOnly: page scripts never see it; SameSite=Strict: other sites cannot make the
    // browser use it; Secure over HTTPS (req.secure honours X-Forwarded-Proto under TRUST_PROXY).
    const sessionId = await adminSessions.create();
    res.cookie(ADMIN_SESSION_COOKIE, sessionId, {
      httpOnly: true,
      sameSite: "strict",
      secure: req.secure,
      path: COOKIE_PATH,
      maxAge: adminSessions.ttlSeconds * 1_000,
    });
    // The token was in this URL: keep it out of caches and of the next page's Referer.
    res.set({ "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" });
    res.redirect(303, QUEUE_BOARD_PATH);
  });

  router.get("/admin/logout", async (req, res) => {
    const sessionId = readCookie(req.headers.cookie, ADMIN_SESSION_COOKIE);
    if (sessionId && adminSessions) await adminSessions.end(sessionId);
    res.clearCookie(ADMIN_SESSION_COOKIE, { path: COOKIE_PATH });
    res.set("Cache-Control", "no-store").json({ status: "logged out" });
  });

  if (!adminToken) {
    router.use(QUEUE_BOARD_PATH, () => {
      throw off();
    });
    return router;
  }
  // The board holds no connections of its own (it uses the producer's queues).
  const { producer, providerCatalog } = ctx.deps;
  const board = createQueueBoard(producer.getQueues());
  let shown = "";
  // One queue per provider of the catalog: a pool that registers later shows up on the next request.
  const showProviderQueues = async (): Promise<void> => {
    const providers = await providerCatalog.keys();
    if (providers.join(",") === shown) return;
    shown = providers.join(",");
    board.showQueues(producer.getQueues(providers));
  };
  router.use(
    QUEUE_BOARD_PATH,
    requireBoardAccess(adminToken, adminSessions),
    queueBoardContentSecurityPolicy,
    async (req, res, next) => {
      // Postgres away: the board still shows the queues it had.
      await showProviderQueues().catch(() => undefined);
      res.set("Cache-Control", "no-store");
      board.app(req, res, next);
    },
  );
  return router;
}
