import type { EngineDeps } from "@ensemble/engine";
import type { EventSink } from "./event-sink.js";
import { DEFAULT_EVENT_STREAM_SETTINGS, type EventStreamSettings } from "./event-stream-settings.js";
import { FlowEventFeed } from "./flow-event-feed.js";

export interface OpenFeedOptions {
  flowId: string;
  afterId: number;
  sink: EventSink;
  /** Called every `heartbeatMs` while the stream is open. */
  heartbeat: () => void;
}

/**
 * The API process's open event streams (SSE and WebSocket): starts each client's feed
 * with its heartbeat, and ends them all on shutdown so the HTTP server can close.
 */
export class FlowEventHub {
  readonly settings: EventStreamSettings;
  private readonly open = new Set<FlowEventFeed>();

  constructor(
    private readonly deps: EngineDeps,
    settings: Partial<EventStreamSettings> = {},
  ) {
    this.settings = { ...DEFAULT_EVENT_STREAM_SETTINGS, ...settings };
  }

  /** Starts streaming; the returned function stops it (the client went away). */
  openFeed(options: OpenFeedOptions): () => void {
    const feed = new FlowEventFeed({ deps: this.deps, flowId: options.flowId, afterId: options.afterId, sink: options.sink, slowClientMs: this.settings.slowClientMs });
    this.open.add(feed);
    const heartbeat = setInterval(options.heartbeat, this.settings.heartbeatMs);
    const stop = (): void => {
      clearInterval(heartbeat);
      this.open.delete(feed);
      feed.close();
    };
    void feed.run().finally(stop);
    return stop;
  }

  /** How many streams are open (for tests and metrics). */
  get size(): number {
    return this.open.size;
  }

  /** Ends every stream (clients reconnect elsewhere with Last-Event-ID). */
  close(): void {
    for (const feed of [...this.open]) feed.close("shutdown");
  }
}
