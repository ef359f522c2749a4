import { HealthResponse, ReadinessResponse } from "@ensemble/core";
import { z } from "zod";
import { defineRoute } from "./api-route.js";

/**
 * The operational routes the OpenAPI document describes. Each is served by its own router
 * (health-routes.ts, metrics-routes.ts, openapi-routes.ts, queue-board-routes.ts), mounted
 * ahead of the /v1 middleware: they take no API key, /metrics can move to HEALTH_PORT, and
 * Bull Board is a mounted app rather than a route.
 */
export const operationalRoutes = [
  defineRoute({
    method: "get",
    path: "/admin/login",
    operationId: "adminLogin",
    tag: "operations",
    summary: "Log in to Bull Board in a browser",
    description:
      "Starts a session (Redis, ADMIN_SESSION_TTL_SECONDS), sets its id as the `ensemble_admin` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, path /admin) and redirects to /admin/queues. The cookie opens Bull Board only, not /v1/admin.",
    auth: "none",
    query: z.object({ token: z.string().describe("ADMIN_TOKEN") }),
    responses: {
      303: {
        description: "logged in; redirect to /admin/queues",
        headers: { "Set-Cookie": { description: "ensemble_admin=<session id>", schema: { type: "string" } } },
      },
    },
    errors: [401, 404],
    servedBy: "queue-board-routes.ts",
  }),
  defineRoute({
    method: "get",
    path: "/admin/queues",
    operationId: "queueBoard",
    tag: "operations",
    summary: "Bull Board: the queues and their jobs (HTML)",
    description:
      "Off (404) without ADMIN_TOKEN. Its JSON API is under /admin/queues/api/… (same auth); a write there with the session cookie must be same-origin (Sec-Fetch-Site or Origin), else 403.",
    auth: "adminBoard",
    responses: { 200: { description: "the Bull Board page", contentType: "text/html", schema: { type: "string" } } },
    servedBy: "queue-board-routes.ts",
  }),
  defineRoute({
    method: "get",
    path: "/healthz",
    operationId: "health",
    tag: "operations",
    summary: "The process is up",
    auth: "none",
    responses: { 200: { description: "up", schema: HealthResponse } },
    servedBy: "health-routes.ts",
  }),
  defineRoute({
    method: "get",
    path: "/readyz",
    operationId: "ready",
    tag: "operations",
    summary: "Redis and Postgres are reachable",
    auth: "none",
    responses: {
      200: { description: "ready", schema: ReadinessResponse },
      503: {
        description: "not ready; `down` names what is unreachable, or the process is draining (shutting down)",
        schema: ReadinessResponse,
        headers: { "Retry-After": { description: "seconds", schema: { type: "integer" } } },
      },
    },
    servedBy: "health-routes.ts",
  }),
  defineRoute({
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    tag: "operations",
    summary: "Prometheus metrics (docs/operations.md lists them)",
    auth: "none",
    responses: {
      200: { description: "Prometheus text format 0.0.4", contentType: "text/plain", schema: { type: "string" } },
    },
    servedBy: "metrics-routes.ts (or the HEALTH_PORT server)",
  }),
  defineRoute({
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    tag: "operations",
    summary: "This document",
    auth: "none",
    responses: { 200: { description: "OpenAPI 3.1", schema: { type: "object" } } },
    servedBy: "openapi-routes.ts",
  }),
];
