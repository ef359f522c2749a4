import type { Database } from "@ensemble/db";
import { Router } from "express";
import type { FlowEventHub } from "./flow-event-hub.js";
import { parseLastEventId } from "./last-event-id.js";
import { loadReadableFlow } from "./readable-flow.js";
import { createSseSink, SSE_HEADERS } from "./sse-sink.js";

/** `GET /v1/flows/:flowId/events`: the flow's events as Server-Sent Events (behind the /v1 API-key middleware). */
export function sseRoutes(hub: FlowEventHub, db: Database): Router {
  const router = Router();
  router.get("/v1/flows/:flowId/events", async (req, res) => {
    // Everything that can fail with a 4xx happens before the 200 and its headers.
    const afterId = parseLastEventId(req.headers["last-event-id"], req.query.lastEventId);
    const flow = await loadReadableFlow(db, req.params.flowId, req.userId as string);
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const sink = createSseSink(res);
    const stop = hub.openFeed({ flowId: flow.id, afterId, sink, heartbeat: () => sink.heartbeat() });
    res.on("close", stop);
  });
  return router;
}
