import express, { type Express } from "express";
import { authenticate } from "./auth/authenticate.js";
import { mountFlowEvents } from "./events/flow-events.js";
import { errorHandler, notFoundHandler } from "./http/error-handler.js";
import type { AppContext } from "./app-context.js";
import { adminRoutes } from "./routes/admin-routes.js";
import { flowRoutes } from "./routes/flow-routes.js";
import { healthRoutes } from "./routes/health-routes.js";
import { templateRoutes } from "./routes/template-routes.js";
import { threadRoutes } from "./routes/thread-routes.js";

/** The HTTP API: validation, auth and permissions in front of the engine. No flow logic here. */
export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(express.json({ limit: "1mb" }));
  app.use(healthRoutes(ctx));
  app.use(adminRoutes(ctx));
  app.use("/v1", authenticate(ctx.deps.db));
  app.use(threadRoutes(ctx));
  app.use(flowRoutes(ctx));
  mountFlowEvents(app, ctx);
  app.use(templateRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.deps.logger));
  return app;
}
