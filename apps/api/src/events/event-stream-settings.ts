/** Tunables of the SSE and WebSocket event streams (env `EVENTS_*`, see apps/api/src/env.ts). */
export interface EventStreamSettings {
  /** An SSE comment line, or a WebSocket ping, every this many ms: keeps proxies from closing an idle stream. Default 15000. */
  heartbeatMs: number;
  /**
   * A client whose socket buffer stays full this long is dropped (SSE: the response is
   * destroyed; WebSocket: terminated). Nothing is lost: it reconnects with Last-Event-ID.
   * Default 30000.
   */
  slowClientMs: number;
  /**
   * A client with more unsent bytes than this, that took none of them in the last 250 ms,
   * is dropped at once instead of after `slowClientMs` (it resumes with Last-Event-ID). A
   * client that reads is kept, however large an event. Default 1 MiB.
   */
  slowClientBytes: number;
}

export const DEFAULT_EVENT_STREAM_SETTINGS: EventStreamSettings = {
  heartbeatMs: 15_000,
  slowClientMs: 30_000,
  slowClientBytes: 1_048_576,
};
