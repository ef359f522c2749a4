interface Waiting<I, O> {
  item: I;
  resolve: (result: O) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions<I, O> {
  /** At most this many items per batch. */
  maxBatch: number;
  /** Writes a batch (one transaction): one result per item, in the batch's order. A rejection fails every item with its error. */
  commit(batch: I[]): Promise<PromiseSettledResult<O>[]>;
  /** Items with the same key never share a batch: a later one waits for the next. */
  key?: (item: I) => string;
}

/**
 * Group commit: the items submitted while a batch is being committed, or in the same turn
 * of the event loop, go in the next batch, so under load many writes share one COMMIT (one
 * WAL flush) while a lone item waits for nothing but the next turn. One batch at a time.
 */
export class GroupCommit<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private flushing = false;

  constructor(private readonly options: GroupCommitOptions<I, O>) {}

  /** Resolves with the item's result once its batch has committed. */
  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.nextBatch();
      let results: PromiseSettledResult<O>[];
      try {
        results = await this.options.commit(batch.map((w) => w.item));
      } catch (error) {
        results = batch.map(() => ({ status: "rejected", reason: error }));
      }
      batch.forEach((w, i) => {
        const result = results[i];
        if (result?.status === "fulfilled") w.resolve(result.value);
        else w.reject(result ? result.reason : new Error("group commit gave no result for an item"));
      });
    }
    this.flushing = false;
  }

  /** The oldest waiting items, up to maxBatch, no two with the same key; the others keep their place. */
  private nextBatch(): Waiting<I, O>[] {
    const { key, maxBatch } = this.options;
    if (!key) return this.waiting.splice(0, maxBatch);
    const keys = new Set<string>();
    const batch: Waiting<I, O>[] = [];
    const rest: Waiting<I, O>[] = [];
    for (const w of this.waiting) {
      const k = key(w.item);
      if (batch.length < maxBatch && !keys.has(k)) {
        keys.add(k);
        batch.push(w);
      } else rest.push(w);
    }
    this.waiting = rest;
    return batch;
  }
}
