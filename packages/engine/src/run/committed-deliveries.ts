import { isRedisUnavailable } from "@ensemble/queue";
import type { Logger } from "pino";

/** One write to Redis that a committed transaction owes: an event, an archive entry. */
export interface Delivery {
  /** For logs: what is delivered, e.g. `step_complete of <flow>`. */
  what: string;
  send: () => Promise<unknown>;
}

export interface CommittedDeliveriesOptions {
  logger: Logger;
  /** Pause between attempts while Redis is unavailable. Default 500 ms. */
  retryEveryMs?: number;
  /** Deliveries kept while Redis is unavailable; beyond it the oldest are dropped (and logged). Default 100,000. */
  maxPending?: number;
}

/**
 * What a committed transaction owes Redis — its events and archive entries — delivered in
 * the order it was owed, and not lost to a Redis blip: a delivery that meets an unavailable
 * Redis is kept and retried, and every later one waits behind it, so a flow's events keep
 * their order. A delivery Redis refuses for another reason is logged and dropped (retrying
 * would block the rest for ever).
 *
 * Held in this process's memory: a process killed while Redis is down loses what it holds.
 * Jobs are not delivered here; a lost job is rebuilt from Postgres by the sweeper.
 */
export class CommittedDeliveries {
  private readonly pending: Delivery[] = [];
  private draining: Promise<void> | null = null;
  private readonly retryEveryMs: number;
  private readonly maxPending: number;
  private readonly logger: Logger;
  private dropped = 0;

  constructor(options: CommittedDeliveriesOptions) {
    this.logger = options.logger;
    this.retryEveryMs = options.retryEveryMs ?? 500;
    this.maxPending = options.maxPending ?? 100_000;
  }

  /** Deliveries waiting for Redis. */
  get waiting(): number {
    return this.pending.length;
  }

  /**
   * Sends `deliveries` now, all at once (one connection keeps them in order), unless earlier
   * ones are still waiting: then they queue behind those. Resolves when each was sent or kept.
   */
  async deliver(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    if (this.pending.length > 0) {
      this.keep(deliveries);
      return;
    }
    const results = await Promise.allSettled(deliveries.map((d) => d.send()));
    const firstUnsent = results.findIndex((r) => r.status === "rejected");
    if (firstUnsent < 0) return;
    const unsent: Delivery[] = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      const delivery = deliveries[i] as Delivery;
      if (isRedisUnavailable(result.reason)) unsent.push(delivery);
      else this.logger.error({ err: result.reason, delivery: delivery.what }, "Redis refused a delivery; dropped");
    });
    this.keep(unsent);
  }

  /** Waits until nothing is pending, or `timeoutMs` passed; resolves with what is still pending. */
  async flush(timeoutMs: number): Promise<number> {
    if (!this.draining) return this.pending.length;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.draining, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    if (this.pending.length > 0)
      this.logger.error({ pending: this.pending.length }, "deliveries still waiting for Redis at shutdown are lost");
    return this.pending.length;
  }

  private keep(deliveries: readonly Delivery[]): void {
    if (deliveries.length === 0) return;
    this.pending.push(...deliveries);
    const over = this.pending.length - this.maxPending;
    if (over > 0) {
      this.pending.splice(0, over);
      this.dropped += over;
      this.logger.error(
        { dropped: over, droppedInAll: this.dropped, maxPending: this.maxPending },
        "too many deliveries waiting for Redis: the oldest were dropped",
      );
    }
    this.startDraining();
  }

  private startDraining(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // Kept after the loop saw an empty queue, before this ran.
      if (this.pending.length > 0) this.startDraining();
    });
  }

  /** Sends the pending deliveries one by one, oldest first, waiting out Redis' unavailability. */
  private async drain(): Promise<void> {
    this.logger.warn({ pending: this.pending.length }, "Redis unavailable: events wait to be delivered");
    let delivered = 0;
    while (this.pending.length > 0) {
      const head = this.pending[0] as Delivery;
      try {
        await head.send();
        delivered += 1;
      } catch (err) {
        if (isRedisUnavailable(err)) {
          await new Promise((resolve) => setTimeout(resolve, this.retryEveryMs));
          continue;
        }
        this.logger.error({ err, delivery: head.what }, "Redis refused a delivery; dropped");
      }
      if (this.pending[0] === head) this.pending.shift();
    }
    this.logger.info({ delivered }, "Redis back: the waiting events were delivered");
  }
}
