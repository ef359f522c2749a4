import { Router, type RequestHandler } from "express";
import { requireAdmin } from "../auth/authenticate.js";
import { idempotency } from "../guards/idempotency-middleware.js";
import { expressPath, type ApiRoute, type RouteContext } from "./api-route.js";

/**
 * A router serving the registry's routes of one auth kind: "admin" behind ADMIN_TOKEN
 * (every /v1/admin path, so an unknown one is 401 too, not a fall-through to the API-key
 * check), "apiKey" for mounting after the /v1 API-key middleware and per-key guards. A
 * route with `idempotency` replays a repeated Idempotency-Key's first answer when the app
 * has guards.
 */
export function apiRouter(routes: readonly ApiRoute[], auth: "admin" | "apiKey", ctx: RouteContext): Router {
  const router = Router();
  if (auth === "admin") router.use("/v1/admin", requireAdmin(ctx.app.adminToken));
  const { guards, deps } = ctx.app;
  for (const route of routes) {
    const serve = route.serve;
    if (route.auth !== auth || !serve) continue;
    const before: RequestHandler[] =
      route.idempotency && guards ? [idempotency(guards.idempotency, route.idempotency, deps.logger)] : [];
    router[route.method](expressPath(route.path), ...before, (req, res) => serve(ctx, req, res));
  }
  return router;
}
