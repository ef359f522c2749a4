import { httpRequestSpans } from "@ensemble/telemetry";
import express, { type Express } from "express";
import { ApiKeyLookup } from "./auth/api-key-lookup.js";
import { authenticate } from "./auth/authenticate.js";
import { createFlowEvents } from "./events/flow-events.js";
import { knownOverLimitGuard, perKeyGuards } from "./guards/request-guards.js";
import { errorHandler, notFoundHandler } from "./http/error-handler.js";
import { jsonBody } from "./http/json-body.js";
import { rejectInvalidPath } from "./http/percent-encoding.js";
import { refuseWhileDraining } from "./http/refuse-while-draining.js";
import { DEFAULT_REQUEST_LIMITS } from "./http/request-limits.js";
import { securityHeaders } from "./http/security-headers.js";
import type { AppContext } from "./app-context.js";
import { HttpMetrics } from "./ops/http-metrics.js";
import { healthRoutes } from "./routes/health-routes.js";
import { metricsRoutes } from "./routes/metrics-routes.js";
import { openApiRoutes } from "./routes/openapi-routes.js";
import { queueBoardRoutes } from "./routes/queue-board-routes.js";
import { apiRouter } from "./routes/mount-api-routes.js";
import { ROUTES } from "./routes/route-registry.js";
import { uiRoutes } from "./routes/ui-routes.js";

/** The HTTP API: validation, auth and permissions in front of the engine. No flow logic here. */
export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  if (ctx.trustProxy !== undefined) app.set("trust proxy", ctx.trustProxy);
  const http = ctx.httpMetrics ?? new HttpMetrics();
  const keys = new ApiKeyLookup(ctx.deps.db, ctx.keyCacheTtlMs, ctx.deps.logger);
  app.use(httpRequestSpans(), http.middleware(ctx.deps.logger));
  app.use(securityHeaders, rejectInvalidPath);
  app.use(jsonBody(ctx.guards?.limits.bodyBytes ?? DEFAULT_REQUEST_LIMITS.bodyBytes));
  app.use(healthRoutes(ctx));
  if (ctx.serveMetrics !== false) app.use(metricsRoutes(ctx, http));
  app.use(openApiRoutes(), queueBoardRoutes(ctx));
  const routes = { app: ctx, keys, events: createFlowEvents(app, ctx, keys) };
  app.use(apiRouter(ROUTES, "admin", routes));
  app.use(uiRoutes(ctx.uiDir));
  if (ctx.guards) app.use(knownOverLimitGuard(ctx.guards));
  app.use("/v1", refuseWhileDraining(ctx.shutdown), authenticate(keys));
  if (ctx.guards) app.use(perKeyGuards(ctx.guards, ctx.deps.logger));
  app.use(apiRouter(ROUTES, "apiKey", routes));
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.deps.logger));
  return app;
}
