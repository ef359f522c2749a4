import express, { type Express } from "express";
import { authenticate } from "./auth/authenticate.js";
import { mountFlowEvents } from "./events/flow-events.js";
import { knownOverLimitGuard, perKeyGuards } from "./guards/request-guards.js";
import { errorHandler, notFoundHandler } from "./http/error-handler.js";
import { jsonBody } from "./http/json-body.js";
import { rejectInvalidPath } from "./http/percent-encoding.js";
import { DEFAULT_REQUEST_LIMITS } from "./http/request-limits.js";
import { securityHeaders } from "./http/security-headers.js";
import type { AppContext } from "./app-context.js";
import { HttpMetrics } from "./ops/http-metrics.js";
import { adminRoutes } from "./routes/admin-routes.js";
import { flowRoutes } from "./routes/flow-routes.js";
import { healthRoutes } from "./routes/health-routes.js";
import { metricsRoutes } from "./routes/metrics-routes.js";
import { openApiRoutes } from "./routes/openapi-routes.js";
import { providerRoutes } from "./routes/provider-routes.js";
import { queueBoardRoutes } from "./routes/queue-board-routes.js";
import { templateRoutes } from "./routes/template-routes.js";
import { threadRoutes } from "./routes/thread-routes.js";
import { uiRoutes } from "./routes/ui-routes.js";

/** The HTTP API: validation, auth and permissions in front of the engine. No flow logic here. */
export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  if (ctx.trustProxy !== undefined) app.set("trust proxy", ctx.trustProxy);
  const http = new HttpMetrics();
  app.use(http.middleware(ctx.deps.logger));
  app.use(securityHeaders, rejectInvalidPath);
  app.use(jsonBody(ctx.guards?.limits.bodyBytes ?? DEFAULT_REQUEST_LIMITS.bodyBytes));
  app.use(healthRoutes(ctx));
  app.use(metricsRoutes(ctx, http), openApiRoutes(), queueBoardRoutes(ctx));
  app.use(adminRoutes(ctx));
  app.use(uiRoutes(ctx.uiDir));
  if (ctx.guards) app.use(knownOverLimitGuard(ctx.guards));
  app.use("/v1", authenticate(ctx.deps.db));
  if (ctx.guards) app.use(perKeyGuards(ctx.guards, ctx.deps.logger));
  app.use(threadRoutes(ctx));
  app.use(flowRoutes(ctx));
  app.use(providerRoutes(ctx));
  mountFlowEvents(app, ctx);
  app.use(templateRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.deps.logger));
  return app;
}
