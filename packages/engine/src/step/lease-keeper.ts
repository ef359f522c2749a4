import type { HeldStepLease } from "@ensemble/db";

const RENEWAL_CHUNK = 500;

/**
 * Keeps the step leases this process holds alive with one timer and one statement per
 * interval for all of them, rather than a timer and a statement per step: at thousands
 * of steps in flight, per-step renewals alone would be hundreds of statements a second,
 * and a busy event loop would delay each of them separately.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, { leaseToken: number; onLost: () => void }>();
  /** Other things that lapse with a lease (a user's in-flight slot), renewed on the same heartbeat. */
  private readonly alongside = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;

  constructor(
    /** Renews the leases at once; resolves with the ids still held. */
    private readonly renew: (leases: HeldStepLease[]) => Promise<Set<string>>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Keeps `lease` alive until the returned function is called; `onLost` runs once if it is taken over. */
  hold(lease: HeldStepLease, onLost: () => void): () => void {
    const entry = { leaseToken: lease.leaseToken, onLost };
    this.held.set(lease.id, entry);
    this.startBeating();
    return () => {
      if (this.held.get(lease.id) === entry) this.held.delete(lease.id);
      this.stopWhenIdle();
    };
  }

  /**
   * Calls `renew` on every heartbeat until the returned function is called: for what must
   * live as long as a step's job and lapse like its lease when the worker dies, without a
   * timer of its own. `renew` handles its own errors (it is not awaited).
   */
  renewAlongside(renew: () => void): () => void {
    const entry = (): void => renew();
    this.alongside.add(entry);
    this.startBeating();
    return () => {
      this.alongside.delete(entry);
      this.stopWhenIdle();
    };
  }

  private startBeating(): void {
    // Unref'd: the calls it serves keep the process alive, the timer itself need not.
    this.timer ??= setInterval(() => this.beat(), this.intervalMs).unref();
  }

  private beat(): void {
    // Sent in the same turn: on an auto-pipelining connection they travel in one write.
    for (const renew of this.alongside) renew();
    void this.renewAll();
  }

  private stopWhenIdle(): void {
    if (this.held.size > 0 || this.alongside.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.held.size;
  }

  /** Renews every held lease now (the timer calls it); a renewal still under way is awaited instead of doubled. */
  renewAll(): Promise<void> {
    this.renewal ??= this.renewHeld().finally(() => (this.renewal = undefined));
    return this.renewal;
  }

  private async renewHeld(): Promise<void> {
    const batch = [...this.held].map(([id, entry]) => ({ id, entry }));
    const kept = new Set<string>();
    try {
      // Chunks keep each statement short: it locks its rows, and a step finishing meanwhile waits on it.
      const chunks: HeldStepLease[][] = [];
      for (let i = 0; i < batch.length; i += RENEWAL_CHUNK) {
        chunks.push(batch.slice(i, i + RENEWAL_CHUNK).map(({ id, entry }) => ({ id, leaseToken: entry.leaseToken })));
      }
      for (const ids of await Promise.all(chunks.map((chunk) => this.renew(chunk)))) for (const id of ids) kept.add(id);
    } catch (err) {
      // Postgres unreachable: the next interval tries again, well within the lease.
      this.onError(err);
      return;
    }
    for (const { id, entry } of batch) {
      // Released meanwhile (its step committed): not lost.
      if (kept.has(id) || this.held.get(id) !== entry) continue;
      this.held.delete(id);
      entry.onLost();
    }
    this.stopWhenIdle();
  }
}
