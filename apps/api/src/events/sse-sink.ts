import type { FlowStreamUpdate } from "@ensemble/core";
import type { ServerResponse } from "node:http";
import type { EventSink, StreamEndReason } from "./event-sink.js";

/** One SSE event: `id` (for Last-Event-ID), `event` = the type, `data` = the event as JSON (one line). */
export function formatSseEvent(event: FlowStreamUpdate): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  // nginx and similar proxies buffer responses unless told not to.
  "x-accel-buffering": "no",
} as const;

/** An SSE response as an EventSink; `heartbeat` writes a comment line unless the buffer is full. */
export function createSseSink(res: ServerResponse): EventSink & { heartbeat(): void } {
  return {
    send: (event) => res.write(formatSseEvent(event)),
    // The response's own buffer plus its socket's (Node counts both in writableLength).
    bufferedBytes: () => res.writableLength,
    drained: () =>
      new Promise<void>((resolve) => {
        if (!res.writableNeedDrain || res.destroyed) return resolve();
        const done = (): void => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      }),
    end: (reason: StreamEndReason) => {
      // Only the flow's end is a clean end of the response. Otherwise the connection is cut,
      // which clients treat as a network error and resume from with Last-Event-ID; and a
      // client that reads nothing could not receive a clean end anyway.
      if (reason === "flow_ended") res.end();
      else res.destroy();
    },
    heartbeat: () => {
      if (!res.writableNeedDrain && !res.writableEnded) res.write(": heartbeat\n\n");
    },
  };
}
