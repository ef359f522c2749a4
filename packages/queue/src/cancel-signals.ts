import type { Redis } from "ioredis";
import { z } from "zod";
import { CancelReasonSchema, type CancelReason } from "./job-catalog.js";
import { DEFAULT_QUEUE_PREFIX } from "./queue-names.js";
import { whenFailFastReady } from "./redis-availability.js";
import { SharedSubscriber, type SubscriberSource } from "./shared-subscriber.js";

export interface CancelSignalsOptions {
  /** Connection for PUBLISH (any role). The caller owns it. */
  publisher: Redis;
  /** Connection for SUBSCRIBE, or a factory called on the first `listen` (then owned). */
  subscriber?: SubscriberSource;
  /** Key prefix (env `QUEUE_PREFIX`). Default: `ensemble`. */
  prefix?: string;
  /** With a fail-fast publisher: how long `publish` waits for it to (re)connect. Default: 1000 ms. */
  readyTimeoutMs?: number;
  /** Malformed messages and listener errors. Default: ignored. */
  onError?: (err: unknown) => void;
}

const CancelMessageSchema = z.object({ flowId: z.string().min(1), reason: CancelReasonSchema });

/**
 * Cluster-wide "stop this flow now": every worker hears it and aborts its running provider
 * calls for the flow. Pub/sub is the fast path only (a worker that is disconnected at that
 * moment misses it); the cancelled state in Postgres stays the source of truth.
 */
export class CancelSignals {
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: SharedSubscriber | undefined;
  private readonly onError: (err: unknown) => void;
  private readonly readyTimeoutMs: number;

  constructor(options: CancelSignalsOptions) {
    this.publisher = options.publisher;
    this.channel = `${options.prefix ?? DEFAULT_QUEUE_PREFIX}:cancel`;
    this.onError = options.onError ?? (() => undefined);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.subscriber = options.subscriber ? new SharedSubscriber(options.subscriber, this.onError) : undefined;
  }

  /** Announces a cancellation; resolves with how many processes were listening. */
  async publish(flowId: string, reason: CancelReason): Promise<number> {
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "publish cancel");
    return this.publisher.publish(this.channel, JSON.stringify({ flowId, reason }));
  }

  /** Calls `onCancel` for every cancellation; resolves once listening, with a stop function. */
  async listen(onCancel: (flowId: string, reason: CancelReason) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) throw new Error("CancelSignals: pass `subscriber` to listen");
    return this.subscriber.subscribe(this.channel, {
      onMessage: (message) => {
        const parsed = CancelMessageSchema.safeParse(safeJson(message));
        if (!parsed.success) {
          this.onError(new Error(`CancelSignals: ignored malformed message ${message.slice(0, 200)}`));
          return;
        }
        onCancel(parsed.data.flowId, parsed.data.reason);
      },
    });
  }

  /** Closes the subscriber connection if this object created it. */
  async close(): Promise<void> {
    await this.subscriber?.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
