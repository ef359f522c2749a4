import { isTerminalFlowStatus } from "@ensemble/core";
import type { EngineDeps } from "@ensemble/engine";
import { Router } from "express";
import { hasEventsAfter } from "./archived-events.js";
import type { FlowEventHub } from "./flow-event-hub.js";
import { parseLastEventId } from "./last-event-id.js";
import { loadReadableFlow } from "./readable-flow.js";
import { createSseSink, SSE_HEADERS } from "./sse-sink.js";

/** `GET /v1/flows/:flowId/events`: the flow's events as Server-Sent Events (behind the /v1 API-key middleware). */
export function sseRoutes(hub: FlowEventHub, deps: EngineDeps): Router {
  const db = deps.db;
  const router = Router();
  router.get("/v1/flows/:flowId/events", async (req, res) => {
    // Everything that can fail with a 4xx happens before the 200 and its headers.
    const afterId = parseLastEventId(req.headers["last-event-id"], req.query.lastEventId);
    const flow = await loadReadableFlow(db, req.params.flowId, req.userId as string);
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
  });
  return router;
}
