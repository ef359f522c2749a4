import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tracer, tracingEnabled } from "./tracing.js";

/**
 * Express-style middleware: each request runs inside a server span that continues the
 * caller's W3C `traceparent`, named after its route once routing has matched it
 * (`POST /v1/flows/:flowId/execute`), with the answer's status. A run started by the request
 * becomes its child.
 */
export function httpRequestSpans() {
  return (
    req: IncomingMessage & { route?: { path?: string }; baseUrl?: string },
    res: ServerResponse,
    next: () => void,
  ): void => {
    if (!tracingEnabled()) {
      next();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? "GET";
    const span = tracer().startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": method } },
      parent,
    );
    res.once("finish", () => {
      const route = req.route?.path ? `${req.baseUrl ?? ""}${String(req.route.path)}` : undefined;
      if (route) {
        span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
      }
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
