import {
  sendPlannedEnds,
  type Executor,
  type PlannedEnd,
  type PlannedEndResult,
  type TransactionControl,
} from "@ensemble/db";
import type { Logger } from "pino";
import { stageEvents, type EffectEvent } from "../run/event-outbox.js";
import { GroupCommit } from "./group-commit.js";
import { runKey } from "./step-end-committer.js";

/**
 * What committing a planned end gave: written with its plan; not written because its plan
 * was stale or its lease lost (`written: false`: plan again under the flow's lock); or not
 * written because its batch failed (`batchFailed`: write it on its own).
 */
export type PlannedEndOutcome = PlannedEndResult | { written: false; batchFailed: true };

/** A planned end with its events (each `ifWritten` its end: a stale end announces nothing). */
interface PendingPlannedEnd {
  planned: PlannedEnd;
  events: EffectEvent[];
}

export interface PlannedEndCommitterOptions {
  transact<T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T>;
  logger: Logger;
  /** At most this many ends per transaction (default 128). */
  maxBatch?: number;
}

/**
 * Group commit across runs for the one-round-trip finish (a sequential step's end with the
 * run's next steps, or with the run's end, planned from the state the step was claimed in;
 * see finish-step.ts):
 * the ends that arrive while a batch commits, or in the same turn of the event loop, are
 * written in one transaction — the batch's flows locked in one statement, every end and
 * plan in the next (`sendPlannedEnds`), COMMIT in the same write — so many runs' steps
 * cost one round trip and one WAL flush. At most one end of a run per batch (a second
 * waits for the next, whose check then sees the first).
 *
 * Each end's check is a condition of its own writes: a stale plan writes nothing and comes
 * back `written: false`, and the batch's other ends commit. If the transaction fails, no
 * end of it is written by it, and each comes back `batchFailed`, for its caller to write on
 * its own (the single-run path), so one end's error is its own.
 */
export class PlannedEndCommitter {
  private readonly batches: GroupCommit<PendingPlannedEnd, PlannedEndOutcome>;

  constructor(private readonly options: PlannedEndCommitterOptions) {
    this.batches = new GroupCommit({
      maxBatch: options.maxBatch ?? 128,
      key: (item) => runKey(item.planned.end),
      commit: (batch) => this.commitBatch(batch),
    });
  }

  /**
   * Commits a step's end with its plan and their events (in the next batch); resolves once
   * its batch has committed.
   */
  commit(planned: PlannedEnd, events: EffectEvent[]): Promise<PlannedEndOutcome> {
    return this.batches.submit({ planned, events });
  }

  private async commitBatch(batch: PendingPlannedEnd[]): Promise<PromiseSettledResult<PlannedEndOutcome>[]> {
    let results: PlannedEndOutcome[];
    try {
      const sent = await this.options.transact(async (tx, control) => {
        const written = sendPlannedEnds(
          tx,
          batch.map((item) => item.planned),
        );
        control.commitAfter(written);
        // Behind the ends: an event is written only if its end was (`ifWritten`).
        stageEvents(
          tx,
          control,
          batch.flatMap((item) => item.events),
        );
        return { written }; // wrapped: a returned promise would be awaited before COMMIT is sent
      });
      results = await sent.written;
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      this.options.logger.warn(
        { ends: batch.length, code, message },
        "group commit of planned step ends failed; each end is written on its own",
      );
      results = batch.map(() => ({ written: false, batchFailed: true }));
    }
    return results.map((value) => ({ status: "fulfilled", value }));
  }
}
