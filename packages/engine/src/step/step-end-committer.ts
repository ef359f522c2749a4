import {
  endStepWrites,
  readRuns,
  type Executor,
  type FinishStepInput,
  type RunState,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import { stageEvents, unstageEvents, type EffectEvent } from "../run/event-outbox.js";
import { GroupCommit } from "./group-commit.js";

/** A run as committed right after a batch of ends, shared by the batch's ends of that run. */
export interface CommittedRun {
  state: RunState;
  /**
   * The run's advance after this batch, started by the first of its ends to plan it; the
   * others wait for it instead of planning the same state again.
   */
  advance?: Promise<unknown>;
}

/** What committing one step's end gave. */
export interface CommittedEnd {
  /** The instance as written; undefined when the lease was lost (nothing was written). */
  done: StepResultRow | undefined;
  /** Its run as committed after the end (undefined when nothing was written or the flow is gone). */
  run?: CommittedRun;
}

/** One step's end with its events, written to the outbox with it (only if the end is written: `ifWritten`). */
interface PendingEnd {
  input: FinishStepInput;
  events: EffectEvent[];
}

export interface StepEndCommitterOptions {
  db: Executor;
  transact<T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T>;
  /** At most this many ends per transaction. */
  maxBatch?: number;
}

/**
 * Group commit for the ends of steps that end alone (see finish-step.ts): the ends that
 * arrive while a batch is being committed, or in the same turn of the event loop, are
 * written in one transaction — one COMMIT, one WAL flush — and each end's promise settles
 * once that transaction has committed. Then the runs they belong to are read in one
 * statement, once per run however many of its steps were in the batch.
 *
 * A single end waits for nothing: it is sent at the next turn of the event loop. Each end
 * writes its own instance and its own ledger and message rows, and no flow row, so the ends
 * in one transaction do not wait for each other; if the transaction fails, each end is
 * tried again in a statement of its own, so one end's error is its own.
 */
export class StepEndCommitter {
  private readonly batches: GroupCommit<PendingEnd, CommittedEnd>;

  constructor(private readonly options: StepEndCommitterOptions) {
    this.batches = new GroupCommit({
      maxBatch: options.maxBatch ?? 256,
      commit: (ends) => this.commitBatch(ends),
    });
  }

  /**
   * Commits a step's end and its events (in the next batch); resolves once it is committed
   * and its run read.
   */
  end(input: FinishStepInput, events: EffectEvent[]): Promise<CommittedEnd> {
    return this.batches.submit({ input, events });
  }

  private async commitBatch(ends: PendingEnd[]): Promise<PromiseSettledResult<CommittedEnd>[]> {
    const inputs = ends.map((end) => end.input);
    const written = await this.writeEnds(ends);
    const committed = inputs.filter((_, i) => {
      const result = written[i];
      return result?.status === "fulfilled" && result.value !== undefined;
    });
    let runs = new Map<string, CommittedRun>();
    let readError: unknown = null;
    try {
      runs = await this.readRunsOf(committed);
    } catch (error) {
      readError = error;
    }
    return inputs.map((input, i): PromiseSettledResult<CommittedEnd> => {
      const result = written[i] as PromiseSettledResult<StepResultRow | undefined>;
      if (result.status === "rejected") return result;
      if (!result.value) return { status: "fulfilled", value: { done: undefined } };
      // Committed, but whether its run must advance is unknown: the caller's job fails, and its
      // redelivery advances the run (the end is found committed).
      if (readError !== null) return { status: "rejected", reason: readError };
      const run = runs.get(runKey(input));
      return { status: "fulfilled", value: { done: result.value, ...(run ? { run } : {}) } };
    });
  }

  /**
   * One transaction for all, its ends' events written to the outbox by one statement behind
   * them; if it fails, one transaction each. In the batch's order.
   */
  private async writeEnds(ends: PendingEnd[]): Promise<PromiseSettledResult<StepResultRow | undefined>[]> {
    try {
      const sent = await this.options.transact(async (tx, control) => {
        // By instance id, so two batches that share instances lock them in the same order.
        const order = ends.map((end, i) => ({ end, i })).sort((a, b) => (a.end.input.id < b.end.input.id ? -1 : 1));
        const writes = new Array<Promise<StepResultRow | undefined>>(ends.length);
        for (const { end, i } of order) writes[i] = endStepWrites(tx, end.input);
        control.commitAfter(...writes);
        stageEvents(
          tx,
          control,
          ends.flatMap((end) => end.events),
        );
        return { writes }; // wrapped: a returned promise would be awaited before COMMIT is sent
      });
      const done = await Promise.all(sent.writes);
      return done.map((value) => ({ status: "fulfilled", value }));
    } catch {
      return Promise.allSettled(ends.map((end) => this.writeEndAlone(end)));
    }
  }

  private writeEndAlone(end: PendingEnd): Promise<StepResultRow | undefined> {
    unstageEvents(end.events);
    return this.options
      .transact(async (tx, control) => {
        const written = endStepWrites(tx, end.input);
        control.commitAfter(written);
        stageEvents(tx, control, end.events);
        return { written };
      })
      .then((sent) => sent.written);
  }

  private async readRunsOf(inputs: FinishStepInput[]): Promise<Map<string, CommittedRun>> {
    const keys = [...new Map(inputs.map((i) => [runKey(i), { flowId: i.flowId, run: i.run }])).values()];
    const states = await readRuns(this.options.db, keys);
    const runs = new Map<string, CommittedRun>();
    keys.forEach((key, i) => {
      const state = states[i];
      if (state) runs.set(runKey(key), { state });
    });
    return runs;
  }
}

export function runKey(run: { flowId: string; run: number }): string {
  return `${run.flowId}#${run.run}`;
}
