import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { QueueDepth } from "@ensemble/queue";
import type { Logger } from "pino";

/** What /metrics serves: a worker's or scheduler's ProcessMetrics, or the API's cluster scrape. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface HealthServerOptions {
  /** HEALTH_PORT; 0 picks a free port (tests). */
  port: number;
  /** Interface to listen on. Default: all. */
  host?: string;
  metrics: MetricsSource;
  /** The readiness checks, by name (`redis`, `postgres`, `queue:steps-openai`, …): all true = ready. */
  readiness: () => Promise<Record<string, boolean>>;
  /**
   * `/queues`: each step queue's job counts as JSON, for an autoscaler that cannot read
   * BullMQ's prioritized sorted set (KEDA's metrics-api trigger). Served by the scheduler.
   */
  queues?: () => Promise<Record<string, QueueDepth>>;
  logger: Logger;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `/healthz` (the process is up), `/readyz` (its dependencies and queues, 503 naming what is
 * down) and `/metrics` (Prometheus) on a port of their own: a worker's or scheduler's only
 * HTTP, and the API's metrics kept off its public port. The same shapes as the API's
 * probes. No auth: keep HEALTH_PORT on the internal network.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers }).end(body);
    };
    const json = (status: number, body: unknown, headers?: Record<string, string>): void =>
      send(status, "application/json; charset=utf-8", JSON.stringify(body), headers);
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "method not allowed" });
    if (path === "/healthz") return json(200, { status: "ok" });
    if (path === "/readyz") {
      void options.readiness().then(
        (checks) => {
          const down = Object.entries(checks)
            .filter(([, up]) => !up)
            .map(([name]) => name);
          if (down.length === 0) return json(200, { status: "ready", checks });
          json(
            503,
            { status: "unavailable", checks, down, message: `not ready: ${down.join(" and ")} down` },
            { "retry-after": "5" },
          );
        },
        (err: unknown) => {
          options.logger.error({ err }, "readiness check failed");
          json(503, { status: "unavailable", message: "readiness check failed" }, { "retry-after": "5" });
        },
      );
      return;
    }
    if (path === "/queues" && options.queues) {
      void options.queues().then(
        (depths) => json(200, depths),
        (err: unknown) => {
          options.logger.error({ err }, "queue depths failed");
          json(503, { error: "queue depths unavailable" }, { "retry-after": "5" });
        },
      );
      return;
    }
    if (path === "/metrics") {
      void options.metrics.render().then(
        (text) => send(200, options.metrics.contentType, text),
        (err: unknown) => {
          options.logger.error({ err }, "metrics failed");
          json(500, { error: "metrics failed" });
        },
      );
      return;
    }
    const served = options.queues ? "/healthz, /readyz, /metrics and /queues" : "/healthz, /readyz and /metrics";
    json(404, { error: `not found: ${served} are served here` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, "health and metrics listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
