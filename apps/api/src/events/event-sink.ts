import type { FlowStreamUpdate } from "@ensemble/core";

/** Why a stream ended: the flow is over (a normal close) or the server gave up on the client. */
export type StreamEndReason = "flow_ended" | "slow_client" | "error" | "shutdown";

/** One client connection as the feed sees it (SSE response or WebSocket). */
export interface EventSink {
  /** Writes one event; false once the connection's buffer is full (the feed then stops reading). */
  send(event: FlowStreamUpdate): boolean;
  /** Bytes written to the connection and not yet handed to the network. */
  bufferedBytes(): number;
  /** Resolves when the buffer has room again, or the connection closed. */
  drained(): Promise<void>;
  /** Closes the connection (gracefully when the flow ended, at once when the client is too slow). */
  end(reason: StreamEndReason): void;
}
