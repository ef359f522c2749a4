import type { Server } from "node:http";
import type { Express } from "express";
import type { Logger } from "pino";
import type { ApiKeyLookup } from "../auth/api-key-lookup.js";
import type { AppContext } from "../app-context.js";
import { FlowEventHub } from "./flow-event-hub.js";
import { FlowWebSocketUpgrade, matchFlowWebSocketPath } from "./websocket-upgrade.js";

/** The event hub and WebSocket handler of each app (set by createFlowEvents, used by attachFlowWebSocket). */
const mounted = new WeakMap<Express, { hub: FlowEventHub; upgrade: FlowWebSocketUpgrade; logger: Logger }>();

/** The app's event hub, which the SSE route feeds from and attachFlowWebSocket serves WebSockets with. */
export function createFlowEvents(app: Express, ctx: AppContext, keys: ApiKeyLookup): FlowEventHub {
  const hub = new FlowEventHub(ctx.deps, ctx.events, ctx.guards?.streamSlots ?? null);
  mounted.set(app, {
    hub,
    upgrade: new FlowWebSocketUpgrade(hub, ctx.deps.db, keys, ctx.deps.logger, ctx.guards?.rateLimiter ?? null),
    logger: ctx.deps.logger,
  });
  return hub;
}

export interface FlowEventStreams {
  hub: FlowEventHub;
  /** Ends every open SSE and WebSocket stream; call before `server.close()` (open streams keep it from closing). */
  close(): void;
}

/** Serves `GET /v1/flows/:flowId/ws` on the server's `upgrade` event (the app must have been built by createApp). */
export function attachFlowWebSocket(server: Server, app: Express): FlowEventStreams {
  const parts = mounted.get(app);
  if (!parts) throw new Error("attachFlowWebSocket: the app has no event routes (createFlowEvents was not called)");
  server.on("upgrade", (req, socket, head: Buffer) => {
    const target = matchFlowWebSocketPath(req.url);
    if (target) {
      parts.upgrade.handle(req, socket, head, target.encodedFlowId, target.query).catch((err: unknown) => {
        // handle() answers every failure it expects; anything else must not become an unhandled rejection (a process exit).
        parts.logger.error({ err }, "websocket upgrade failed");
        socket.destroy();
      });
    } else if (server.listenerCount("upgrade") === 1) {
      // Nobody else serves upgrades: answer rather than leave the socket hanging.
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    }
  });
  return { hub: parts.hub, close: () => parts.hub.close() };
}
