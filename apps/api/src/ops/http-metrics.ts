import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "pino";
import { Counter, Histogram, Registry } from "prom-client";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's documented way to type request fields
  namespace Express {
    interface Request {
      /** This request's id: the caller's `X-Request-Id` if it sent a sane one, else a new UUID. */
      requestId?: string;
    }
  }
}

/** A caller's X-Request-Id is kept only if it is short printable ASCII (it goes into logs). */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * This API process's HTTP metrics (`ensemble_http_requests_total`,
 * `ensemble_http_request_duration_seconds`, by method, route pattern and status) and its
 * access log: one line per request with its request id, which is also sent back as
 * `X-Request-Id` and passed with the flow to the scheduler's log.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly duration: Histogram<"method" | "route" | "status">;

  constructor() {
    const registers = [this.registry];
    const labelNames = ["method", "route", "status"] as const;
    this.requests = new Counter({
      name: "ensemble_http_requests_total",
      help: "HTTP requests this API process answered, by method, route pattern and status",
      labelNames,
      registers,
    });
    this.duration = new Histogram({
      name: "ensemble_http_request_duration_seconds",
      help: "HTTP request duration until the answer was sent, by method, route pattern and status (event streams: their whole life)",
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    });
  }

  /** The middleware: request id, metrics and the access log line once the answer is sent. */
  middleware(logger: Logger): RequestHandler {
    return (req, res, next) => {
      const sent = req.headers["x-request-id"];
      req.requestId = typeof sent === "string" && REQUEST_ID.test(sent) ? sent : randomUUID();
      res.setHeader("X-Request-Id", req.requestId);
      const started = performance.now();
      res.once("finish", () => {
        const seconds = (performance.now() - started) / 1_000;
        // The pattern, never the path: ids in paths would make a series per flow.
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : routeGroup(req.path);
        const labels = { method: req.method, route, status: String(res.statusCode) };
        this.requests.inc(labels);
        this.duration.observe(labels, seconds);
        logger.info(
          {
            requestId: req.requestId,
            method: req.method,
            route,
            status: res.statusCode,
            durationMs: Math.round(seconds * 1_000),
            ...(req.userId ? { userId: req.userId } : {}),
          },
          "http request",
        );
      });
      next();
    };
  }
}

/** Requests no route pattern matched (Bull Board, the run viewer, 404s): their first path segment only. */
function routeGroup(path: string): string {
  const first = path.split("/")[1];
  return first === "admin" || first === "ui" ? `/${first}/*` : "unmatched";
}
