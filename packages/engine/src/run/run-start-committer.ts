import { lockRun } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { GroupCommit } from "../step/group-commit.js";
import { stageEvents } from "./event-outbox.js";
import { emptyEffects, performEffects, type RunEffects } from "./run-effects.js";
import { startLockedRun, startRun } from "./start-run.js";

interface RunToStart {
  flowId: string;
  run: number;
}

/**
 * Group commit for `flow.start`: the starts that arrive while a batch commits, or in the same
 * turn of the event loop, go in one transaction — their flows locked in id order (as every
 * batch locks them, so batches never wait on each other crosswise), each run started as
 * `startRun` starts it alone, their events in one outbox statement, one COMMIT and one WAL
 * flush for all. A lone start waits for nothing. If the batch fails, each run is started in a
 * transaction of its own, so one run's error is its own. At most one start of a flow per batch.
 */
export class RunStartCommitter {
  private readonly batches: GroupCommit<RunToStart, void>;

  constructor(
    private readonly deps: RunDeps,
    /** At most this many starts per transaction. */
    maxBatch = 64,
  ) {
    this.batches = new GroupCommit({
      maxBatch,
      key: (start) => start.flowId,
      commit: (starts) => this.commitBatch(starts),
    });
  }

  /** Starts a run (in the next batch); resolves once it is committed and its effects sent. */
  start(flowId: string, run: number): Promise<void> {
    return this.batches.submit({ flowId, run });
  }

  private async commitBatch(starts: RunToStart[]): Promise<PromiseSettledResult<void>[]> {
    if (starts.length === 1) {
      const [only] = starts as [RunToStart];
      return Promise.allSettled([startRun(this.deps, only.flowId, only.run)]);
    }
    const effects = starts.map(() => emptyEffects());
    try {
      await this.startTogether(starts, effects);
    } catch (err) {
      this.deps.logger.warn(
        { err, starts: starts.length },
        "group commit of run starts failed; each starts on its own",
      );
      return Promise.allSettled(starts.map((s) => startRun(this.deps, s.flowId, s.run)));
    }
    return Promise.allSettled(effects.map((e) => performEffects(this.deps, e)));
  }

  private startTogether(starts: RunToStart[], effects: RunEffects[]): Promise<void> {
    return this.deps.transact(async (tx, control) => {
      const order = starts.map((start, i) => ({ start, i })).sort((a, b) => (a.start.flowId < b.start.flowId ? -1 : 1));
      // Sent together, in id order: Postgres takes the locks in that order.
      const locked = await Promise.all(order.map(({ start }) => lockRun(tx, start.flowId, start.run)));
      for (const [k, { start, i }] of order.entries()) {
        const run = locked[k];
        if (run) await startLockedRun(this.deps, tx, control, run, start.run, effects[i] as RunEffects);
      }
      stageEvents(
        tx,
        control,
        effects.flatMap((e) => e.events),
      );
    });
  }
}
