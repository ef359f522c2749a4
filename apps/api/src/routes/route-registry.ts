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
 * Outside the contract, and so not listed: the run viewer (`/ui/`, ui-routes.ts), Bull
 * Board's own pages and JSON API below /admin/queues, and `/admin/logout`.
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
