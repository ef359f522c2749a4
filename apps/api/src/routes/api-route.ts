import type { HttpMethod, PathParamNames } from "@ensemble/core";
import type { Request, Response } from "express";
import type { z } from "zod";
import type { ApiKeyLookup } from "../auth/api-key-lookup.js";
import type { FlowEventHub } from "../events/flow-event-hub.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

/**
 * How a route authenticates: an API key (every /v1 route but the admin ones), ADMIN_TOKEN as
 * a bearer header (/v1/admin), ADMIN_TOKEN or Bull Board's session cookie, or nothing.
 */
export type RouteAuth = "apiKey" | "admin" | "adminBoard" | "none";

/** What a route's handler may use besides the request: the app's settings and its per-app services. */
export interface RouteContext {
  app: AppContext;
  keys: ApiKeyLookup;
  events: FlowEventHub;
}

/** A response the OpenAPI document describes: a zod schema (named ones become `$ref`s) or raw JSON Schema. */
export interface RouteResponse {
  description: string;
  schema?: z.ZodType | Record<string, unknown>;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/** A path's `{flowId}` placeholders, as Express gives them to a handler. */
export type PathParams<P extends string> = { [K in PathParamNames<P>]: string };

/**
 * What a handler gets. `query()` and `body()` validate with the route's schemas when called
 * (400 naming each bad field), so a handler checks access first where a stranger must get
 * 404 rather than learn that their body was wrong.
 */
export interface RouteCall<P extends string, Q extends z.ZodType | undefined, B extends z.ZodType | undefined> {
  req: Request;
  res: Response;
  ctx: RouteContext;
  params: PathParams<P>;
  /** The caller (set by the API-key middleware; "" on routes that take none). */
  userId: string;
  query: () => Q extends z.ZodType ? z.infer<Q> : never;
  body: () => B extends z.ZodType ? z.infer<B> : never;
}

export interface RouteSpec<P extends string, Q extends z.ZodType | undefined, B extends z.ZodType | undefined> {
  method: HttpMethod;
  /** OpenAPI form, `{name}` for a parameter; Express's `:name` form is derived from it. */
  path: P;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: RouteAuth;
  /** Descriptions of path parameters the common ones (threadId, flowId) do not cover. */
  pathParams?: Partial<Record<PathParamNames<P>, string>>;
  query?: Q;
  body?: B;
  /** Header parameters besides Idempotency-Key (which `idempotency` declares). */
  headers?: { name: string; description: string; required?: boolean }[];
  /** The Idempotency-Key scope: the route replays a repeated request's first answer (guards/idempotency-middleware.ts). */
  idempotency?: string;
  responses: Record<number, RouteResponse>;
  /** Error statuses besides the ones every route of its auth kind can answer. */
  errors?: number[];
  /**
   * Where a route is served when it is not mounted from the registry (no handler): the
   * WebSocket upgrade, the operational routers. The route-agreement test checks it is served.
   */
  servedBy?: string;
  handler?: (call: RouteCall<P, Q, B>) => Promise<void> | void;
}

/** A route with its types erased, as the registry lists it. */
export type ApiRoute = Omit<RouteSpec<string, z.ZodType | undefined, z.ZodType | undefined>, "handler"> & {
  /** Runs the handler; absent for a route served elsewhere (`servedBy`). */
  serve?: (ctx: RouteContext, req: Request, res: Response) => Promise<void> | void;
};

export function defineRoute<
  const P extends string,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): ApiRoute {
  const { handler, ...described } = spec;
  if (!handler) {
    if (!spec.servedBy) throw new Error(`${spec.method} ${spec.path}: a route needs a handler or servedBy`);
    return described;
  }
  return {
    ...(described as ApiRoute),
    serve: (ctx, req, res) =>
      handler({
        req,
        res,
        ctx,
        params: req.params as PathParams<P>,
        userId: req.userId ?? "",
        query: (() => parseRequest(spec.query as z.ZodType, req.query)) as RouteCall<P, Q, B>["query"],
        body: (() => parseRequest(spec.body as z.ZodType, req.body)) as RouteCall<P, Q, B>["body"],
      }),
  };
}

/** `/v1/flows/{flowId}` → `/v1/flows/:flowId`. */
export function expressPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ":$1");
}
