import type { RunDeps } from "@ensemble/engine";
import { isRedisUnavailable } from "@ensemble/queue";
import type { StreamSlot, StreamSlots } from "../guards/stream-slots.js";
import { ApiError } from "../http/api-error.js";
import type { EventSink } from "./event-sink.js";
import { DEFAULT_EVENT_STREAM_SETTINGS, type EventStreamSettings } from "./event-stream-settings.js";
import { FlowEventFeed } from "./flow-event-feed.js";

export interface OpenFeedOptions {
  flowId: string;
  afterId: number;
  sink: EventSink;
  /** Called every `heartbeatMs` while the stream is open. */
  heartbeat: () => void;
  /** The API key's stream slot (reserveSlot): renewed with the heartbeat, released when the stream ends. */
  slot: StreamSlot | null;
}

/**
 * The API process's open event streams (SSE and WebSocket): starts each client's feed
 * with its heartbeat, and ends them all on shutdown so the HTTP server can close.
 */
export class FlowEventHub {
  readonly settings: EventStreamSettings;
  private readonly open = new Set<FlowEventFeed>();

  constructor(
    private readonly deps: RunDeps,
    settings: Partial<EventStreamSettings> = {},
    /** Open streams per API key; null: no limit. */
    private readonly slots: StreamSlots | null = null,
  ) {
    this.settings = { ...DEFAULT_EVENT_STREAM_SETTINGS, ...settings };
  }

  /** A slot's lease: renewed every heartbeat, so it lapses soon after its API process dies. */
  private get slotLeaseMs(): number {
    return Math.max(3 * this.settings.heartbeatMs, 1_000);
  }

  /**
   * Takes one of the API key's stream slots before a stream starts; 429 `rate_limited`
   * when the key has MAX_STREAMS_PER_KEY open. Null without a limit, or while Redis is
   * unreachable (as the rate limit, it fails open).
   */
  async reserveSlot(apiKeyId: string): Promise<StreamSlot | null> {
    if (!this.slots) return null;
    let slot: StreamSlot | null;
    try {
      slot = await this.slots.acquire(apiKeyId, this.slotLeaseMs);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      return null;
    }
    if (slot) return slot;
    const retryAfter = Math.ceil(this.slotLeaseMs / 1000);
    throw new ApiError(
      "rate_limited",
      `this API key has ${this.slots.limit} event streams open, the most it may; close one, or retry in ${retryAfter} s`,
      [{ limit: this.slots.limit, retryAfterSeconds: retryAfter }],
      { "Retry-After": String(retryAfter) },
    );
  }

  /** Gives back a slot whose stream never started. */
  releaseSlot(slot: StreamSlot | null): void {
    slot
      ?.release()
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, "event stream slot not released; it lapses with its lease"),
      );
  }

  /** Starts streaming; the returned function stops it (the client went away). */
  openFeed(options: OpenFeedOptions): () => void {
    const feed = new FlowEventFeed({
      deps: this.deps,
      flowId: options.flowId,
      afterId: options.afterId,
      sink: options.sink,
      slowClientMs: this.settings.slowClientMs,
      slowClientBytes: this.settings.slowClientBytes,
    });
    this.open.add(feed);
    const { slot } = options;
    const heartbeat = setInterval(() => {
      options.heartbeat();
      slot
        ?.renew()
        .catch((err: unknown) =>
          this.deps.logger.warn({ err, flowId: options.flowId }, "event stream slot not renewed; will retry"),
        );
    }, this.settings.heartbeatMs);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(heartbeat);
      this.open.delete(feed);
      feed.close();
      this.releaseSlot(slot);
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
