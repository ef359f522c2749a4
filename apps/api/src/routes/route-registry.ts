import { sseRoute, webSocketRoute } from "../events/sse-route.js";
import { adminRoutes } from "./admin-routes.js";
import type { ApiRoute } from "./api-route.js";
import { approvalRoutes } from "./approval-routes.js";
import { flowRoutes } from "./flow-routes.js";
import { operationalRoutes } from "./operational-routes.js";
import { providerRoutes } from "./provider-routes.js";
import { runRoutes } from "./run-routes.js";
import { scheduleRoutes } from "./schedule-routes.js";
import { templateRoutes } from "./template-routes.js";
import { threadRoutes } from "./thread-routes.js";
import { usageRoutes } from "./usage-routes.js";

/**
 * Every route of the HTTP contract, once: method, path, auth, schemas, responses and
 * handler. mount-api-routes.ts serves the /v1 routes from it and openapi-document.ts
 * describes all of them; test/route-agreement.int.test.ts checks that what Express serves,
 * the OpenAPI document and the table in docs/api.md agree.
 *
 * Entries without a handler say where they are served (`servedBy`): the WebSocket route
 * (the HTTP server's upgrade event) and the operational routes (operational-routes.ts).
 * Outside the contract, and so not listed: OUTSIDE_CONTRACT, and Bull Board's own pages and
 * JSON API below /admin/queues.
 */
export const ROUTES: readonly ApiRoute[] = [
  ...adminRoutes,
  ...threadRoutes,
  ...flowRoutes,
  ...approvalRoutes,
  ...runRoutes,
  ...scheduleRoutes,
  ...usageRoutes,
  sseRoute,
  webSocketRoute,
  ...providerRoutes,
  ...templateRoutes,
  ...operationalRoutes,
];

/**
 * Routes Express serves (and docs/api.md may list) that are not part of the HTTP contract:
 * the run viewer's page (ui-routes.ts) and Bull Board's logout (queue-board-routes.ts).
 */
export const OUTSIDE_CONTRACT: readonly string[] = ["GET /ui", "GET /admin/logout"];
