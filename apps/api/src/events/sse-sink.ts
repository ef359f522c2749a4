import type { FlowStreamUpdate } from "@ensemble/core";
import type { ServerResponse } from "node:http";
import type { EventSink, StreamEndReason } from "./event-sink.js";

/** One SSE event: `id` (for Last-Event-ID), `event` = the type, `data` = the event as JSON (one line). */
export function formatSseEvent(event: FlowStreamUpdate): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The reconnect delay an SSE stream ended by a shutdown tells its client (the `retry:` field). */
export const SHUTDOWN_RETRY_MS = 1_000;

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
      // The flow's end is a clean end of the response. A server shutting down ends it with a
      // retry hint, which tells the client to reconnect (with Last-Event-ID, to another
      // replica) rather than take the end for the flow's. Otherwise the connection is cut,
      // which clients treat as a network error and resume from; a client that reads
      // nothing could not receive a clean end anyway.
      if (reason === "flow_ended") res.end();
      else if (reason === "shutdown" && !res.writableNeedDrain) res.end(`retry: ${SHUTDOWN_RETRY_MS}\n\n`);
      else res.destroy();
    },
    heartbeat: () => {
      if (!res.writableNeedDrain && !res.writableEnded) res.write(": heartbeat\n\n");
    },
  };
}
