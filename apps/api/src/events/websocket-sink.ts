import type { FlowStreamUpdate } from "@ensemble/core";
import type { WebSocket } from "ws";
import type { EventSink, StreamEndReason } from "./event-sink.js";

/** Above this many unsent bytes the WebSocket counts as full; below half of it, drained. */
export const WEBSOCKET_HIGH_WATER_BYTES = 64 * 1024;

/** A WebSocket as an EventSink: one text message per event, the event as JSON. */
export function createWebSocketSink(ws: WebSocket): EventSink {
  const waiters = new Set<() => void>();
  const wakeIfRoom = (): void => {
    if (ws.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES / 2 && ws.readyState === ws.OPEN) return;
    for (const wake of waiters) wake();
    waiters.clear();
  };
  ws.on("close", wakeIfRoom);
  return {
    send: (event: FlowStreamUpdate) => {
      if (ws.readyState !== ws.OPEN) return true;
      // The callback runs once the frame is handed to the socket: the moment to look again.
      ws.send(JSON.stringify(event), wakeIfRoom);
      return ws.bufferedAmount < WEBSOCKET_HIGH_WATER_BYTES;
    },
    bufferedBytes: () => ws.bufferedAmount,
    drained: () =>
      new Promise<void>((resolve) => {
        waiters.add(resolve);
        wakeIfRoom();
      }),
    end: (reason: StreamEndReason) => {
      if (reason === "slow_client") ws.terminate();
      else if (reason === "flow_ended") ws.close(1000, "flow ended");
      else if (reason === "shutdown") ws.close(1001, "server shutting down");
      else ws.close(1011, "event stream failed; reconnect with lastEventId");
    },
  };
}
