import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";
import type { Database } from "@ensemble/db";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { isRedisUnavailable } from "@ensemble/queue";
import type { RateLimiter } from "../guards/rate-limiter.js";
import type { StreamSlot } from "../guards/stream-slots.js";
import { ApiError, STATUS_BY_CODE } from "../http/api-error.js";
import { toApiError } from "../http/error-handler.js";
import { decodePathSegment } from "../http/percent-encoding.js";
import type { FlowEventHub } from "./flow-event-hub.js";
import { parseLastEventId } from "./last-event-id.js";
import type { ApiKeyLookup } from "../auth/api-key-lookup.js";
import { loadReadableFlow } from "./readable-flow.js";
import { createWebSocketSink } from "./websocket-sink.js";

const WS_PATH = /^\/v1\/flows\/([^/]+)\/ws$/;

/**
 * Whether this upgrade request is for `GET /v1/flows/:flowId/ws`: the flow id still
 * percent-encoded (`handle` decodes it, where a malformed one becomes a 400). It never
 * throws: it runs on the server's `upgrade` event, outside any error handler, so a throw
 * here would exit the process. The URL is split by hand because `new URL` throws on
 * request targets such as `//`.
 */
export function matchFlowWebSocketPath(
  url: string | undefined,
): { encodedFlowId: string; query: URLSearchParams } | null {
  const target = url ?? "/";
  const queryStart = target.indexOf("?");
  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  const match = WS_PATH.exec(path);
  if (!match?.[1]) return null;
  return { encodedFlowId: match[1], query: new URLSearchParams(queryStart === -1 ? "" : target.slice(queryStart + 1)) };
}

/**
 * `GET /v1/flows/:flowId/ws`: authenticates (API-key bearer header), checks read access
 * and the resume id *before* upgrading, so a bad request gets a plain HTTP 4xx with the
 * API's error body; then streams the flow's events, one JSON text message each.
 */
export class FlowWebSocketUpgrade {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 });

  constructor(
    private readonly hub: FlowEventHub,
    private readonly db: Database,
    private readonly keys: ApiKeyLookup,
    private readonly logger: Logger,
    /** The per-key limit /v1 routes get from Express; the upgrade bypasses Express, so it applies it here. */
    private readonly rateLimiter: RateLimiter | null = null,
  ) {}

  async handle(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    encodedFlowId: string,
    query: URLSearchParams,
  ): Promise<void> {
    socket.on("error", () => undefined); // a client gone mid-handshake is not our error
    let afterId: number;
    let slot: StreamSlot | null;
    let flowId: string;
    try {
      flowId = decodePathSegment(encodedFlowId);
      afterId = parseLastEventId(req.headers["last-event-id"], query.get("lastEventId") ?? undefined);
      const { userId, apiKeyId } = await this.keys.ownerOf(req.headers.authorization);
      await this.countAgainstRateLimit(apiKeyId);
      await loadReadableFlow(this.db, flowId, userId);
      slot = await this.hub.reserveSlot(apiKeyId);
    } catch (err) {
      this.reject(socket, err);
      return;
    }
    if (socket.destroyed) return this.hub.releaseSlot(slot);
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.stream(ws, flowId, afterId, slot));
    } catch (err) {
      this.logger.error({ err, flowId }, "websocket upgrade failed");
      this.hub.releaseSlot(slot);
      socket.destroy();
    }
  }

  private stream(ws: WebSocket, flowId: string, afterId: number, slot: StreamSlot | null): void {
    // A peer that did not answer the previous ping is gone (half-open TCP): terminate it.
    let alive = true;
    ws.on("pong", () => (alive = true));
    ws.on("error", (err) => this.logger.debug({ err, flowId }, "websocket error"));
    const heartbeat = (): void => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    };
    const stop = this.hub.openFeed({ flowId, afterId, sink: createWebSocketSink(ws), heartbeat, slot });
    ws.on("close", stop);
  }

  private async countAgainstRateLimit(apiKeyId: string): Promise<void> {
    if (!this.rateLimiter) return;
    try {
      const decision = await this.rateLimiter.hit(apiKeyId);
      if (decision.allowed) return;
      const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw new ApiError(
        "rate_limited",
        `too many requests for this API key; retry in ${retryAfter} s`,
        [{ limit: decision.limit, retryAfterSeconds: retryAfter }],
        { "Retry-After": String(retryAfter) },
      );
    } catch (err) {
      // Fail open while Redis is down, as the Express middleware does.
      if (!isRedisUnavailable(err)) throw err;
    }
  }

  private reject(socket: Duplex, err: unknown): void {
    const apiError = toApiError(err);
    const status = STATUS_BY_CODE[apiError.code];
    if (status >= 500) this.logger.error({ err }, "websocket upgrade failed");
    const body = JSON.stringify({
      error: { code: apiError.code, message: apiError.message, details: apiError.details },
    });
    const headers = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      connection: "close",
      ...apiError.headers,
    };
    const head = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join("\r\n");
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n${head}\r\n\r\n${body}`);
  }
}
