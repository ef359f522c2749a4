import { apiContract } from "@ensemble/core";
import { isTerminalFlowStatus } from "@ensemble/core";
import { z } from "zod";
import { defineRoute } from "../routes/api-route.js";
import { hasEventsAfter } from "./archived-events.js";
import { parseLastEventId } from "./last-event-id.js";
import { loadReadableFlow } from "./readable-flow.js";
import { createSseSink, SSE_HEADERS } from "./sse-sink.js";

const LAST_EVENT_ID_HEADER = { name: "Last-Event-ID", description: "resume after this event id" };

/** `GET /v1/flows/{flowId}/events`: the flow's events as Server-Sent Events. */
export const sseRoute = defineRoute({
  ...apiContract.streamFlowEvents,
  tag: "events",
  summary: "The flow's progress events as Server-Sent Events",
  description:
    "Each SSE message has `id` (per flow, increasing), `event` (the type) and `data` (a FlowEvent as JSON). Reconnect with `Last-Event-ID` to get every later event; after the flow ended the whole history is sent and the stream closes.",
  auth: "apiKey",
  // parseLastEventId checks it, together with the header (which wins).

  headers: [LAST_EVENT_ID_HEADER],
  errors: [400, 403, 404],
  handler: async ({ ctx, req, res, userId, params }) => {
    const { deps } = ctx.app;
    const hub = ctx.events;
    // Everything that can fail with a 4xx happens before the 200 and its headers.
    const afterId = parseLastEventId(req.headers["last-event-id"], req.query.lastEventId);
    const flow = await loadReadableFlow(deps.db, params.flowId, userId);
    if (isTerminalFlowStatus(flow.status) && !(await hasEventsAfter(deps, flow.id, afterId))) {
      // Over, and the client has everything: 204 is what tells EventSource to stop reconnecting.
      res.status(204).end();
      return;
    }
    const slot = await hub.reserveSlot(req.apiKeyId as string);
    if (res.destroyed) return hub.releaseSlot(slot); // the client left while we checked
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const sink = createSseSink(res);
    const stop = hub.openFeed({ flowId: flow.id, afterId, sink, heartbeat: () => sink.heartbeat(), slot });
    res.on("close", stop);
  },
});

/** `GET /v1/flows/{flowId}/ws`: answered on the server's `upgrade` event, not by Express. */
export const webSocketRoute = defineRoute({
  method: "get",
  path: "/v1/flows/{flowId}/ws",
  operationId: "streamFlowEventsWebSocket",
  tag: "events",
  summary: "The same events over WebSocket (one FlowEvent JSON per text message)",
  auth: "apiKey",
  query: z.object({ lastEventId: z.string().regex(/^\d+$/).optional().describe("resume after this event id") }),
  headers: [LAST_EVENT_ID_HEADER, { name: "Upgrade", description: "websocket", required: true }],
  responses: { 101: { description: "switching to WebSocket; messages are FlowEvent JSON" } },
  errors: [400, 403, 404],
  servedBy: "events/websocket-upgrade.ts, on the HTTP server's upgrade event (attachFlowWebSocket)",
});
