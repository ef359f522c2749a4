import { closeGracefully, createJobWorker, type Worker } from "@ensemble/queue";
import type { Redis } from "ioredis";
import type { RunDeps } from "../engine-deps.js";
import { archiveDueFlows, archiveEvents } from "../run/archive-events.js";
import { cancelRun } from "../run/cancel-run.js";
import { timeOutApproval } from "../run/decide-approval.js";
import { RunStartCommitter } from "../run/run-start-committer.js";
import { advanceRunJob } from "../run/start-run.js";
import { sweepRuns } from "../run/sweep-runs.js";
import { assertFlowSchedules, fireSchedule } from "../schedule/flow-schedules.js";

export interface SchedulerOptions {
  /** A worker-role Redis connection. */
  connection: Redis;
  prefix?: string;
  /** Flow jobs in flight at once (each is a short transaction). Default: 16. */
  concurrency?: number;
  /** How often the repair sweep runs. Default: 5000 ms. */
  sweepEveryMs?: number;
  /** How often ended flows' events are archived to Postgres, in batches. Default: 1000 ms. */
  archiveEveryMs?: number;
  /**
   * How often the scheduler re-asserts the sweep and archive schedules. They live only in
   * Redis: after Redis lost its data (FLUSHALL, no AOF) they would be gone, and with them
   * the sweep that rebuilds every open run's jobs from Postgres. Default: 10000 ms.
   */
  scheduleCheckEveryMs?: number;
  /**
   * Ms a flow job stays locked without renewal before another scheduler takes it over.
   * Flow jobs are short transactions, so a killed scheduler's jobs are taken over after
   * this plus `stalledInterval` (a run it was starting waits that long). Default: 10000.
   */
  lockDuration?: number;
  /** Ms between checks for a dead scheduler's jobs. Default: 5000. */
  stalledInterval?: number;
}

export interface Runtime {
  close(): Promise<void>;
}

/** A running scheduler: its BullMQ worker on the `flows` queue. */
export interface SchedulerRuntime extends Runtime {
  workers: Worker[];
}

/** The scheduler: runs flow jobs (start, advance, cancel, timeout, archive, sweep). */
export async function startScheduler(deps: RunDeps, options: SchedulerOptions): Promise<SchedulerRuntime> {
  const starts = new RunStartCommitter(deps);
  const worker = createJobWorker({
    queue: "flows",
    connection: options.connection,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    concurrency: options.concurrency ?? 16,
    lockDuration: options.lockDuration ?? 10_000,
    stalledInterval: options.stalledInterval ?? 5_000,
    name: `scheduler:${deps.workerId}`,
    onError: (err) => deps.logger.error({ err }, "scheduler queue error"),
    handlers: {
      "flow.start": (p) => {
        // The API's request id joins the run's log lines to the HTTP request that started it.
        deps.logger.info({ flowId: p.flowId, run: p.run, requestId: p.requestId }, "run starting");
        return starts.start(p.flowId, p.run);
      },
      "flow.advance": (p) => advanceRunJob(deps, p.flowId, p.run),
      "flow.cancel": (p) => cancelRun(deps, p.flowId, p.run, p.reason),
      "flow.approval-timeout": (p) => timeOutApproval(deps, p),
      "flow.archive-events": (p) => archiveEvents(deps, p.flowId),
      "flow.archive-due": () => archiveDueFlows(deps),
      "flow.sweep": () => sweepRuns(deps),
      "flow.schedule-fire": (p, job) =>
        fireSchedule(deps, p.scheduleId, new Date(job.opts.prevMillis ?? job.timestamp)),
    },
  });
  worker.on("completed", () => deps.observer?.jobProcessed(worker.name));
  worker.on("failed", (job, err) => {
    deps.observer?.jobFailed(worker.name);
    deps.logger.warn({ err, job: job?.name, jobId: job?.id }, "flow job failed");
  });
  const upsertSchedules = async (): Promise<void> => {
    await deps.producer.upsertSchedule("flow.sweep", {}, { every: options.sweepEveryMs ?? 5_000 });
    await deps.producer.upsertSchedule("flow.archive-due", {}, { every: options.archiveEveryMs ?? 1_000 });
    // Flow schedules live in Postgres: a Redis that lost them has them back within this period.
    await assertFlowSchedules(deps);
  };
  await upsertSchedules();
  // Upserting an existing schedule changes nothing; a lost one is back within this period.
  const keeper = setInterval(() => {
    upsertSchedules().catch((err: unknown) => deps.logger.warn({ err }, "schedules not re-asserted; will retry"));
  }, options.scheduleCheckEveryMs ?? 10_000);
  keeper.unref();
  deps.logger.info({ concurrency: options.concurrency ?? 16 }, "scheduler started");
  return {
    workers: [worker],
    close: async () => {
      clearInterval(keeper);
      await closeGracefully(worker);
    },
  };
}
