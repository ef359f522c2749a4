import { redactSecrets } from "@ensemble/core";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { InvalidJobPayloadError } from "./errors/invalid-job-payload-error.js";
import { NonRetryableJobError } from "./errors/non-retryable-job-error.js";
import {
  JOB_CATALOG,
  isJobName,
  parseJobPayload,
  type JobName,
  type JobNameOnQueue,
  type JobPayload,
} from "./job-catalog.js";
import { DEFAULT_QUEUE_PREFIX, type QueueName } from "./queue-names.js";

/**
 * Runs one job. `payload` is re-parsed from the job's data; `signal` aborts when BullMQ
 * cancels the job (`worker.cancelJob`, or `closeGracefully` running out of time).
 * Throw `NonRetryableJobError` to fail without retries; any other error is retried per
 * the catalog's attempts and backoff.
 */
export type JobHandler<N extends JobName> = (
  payload: JobPayload<N>,
  job: Job,
  signal?: AbortSignal,
) => Promise<unknown>;

/** Handlers for the jobs of one queue (a handler for another queue's job could never run). */
export type JobHandlers<Q extends QueueName> = { [N in JobNameOnQueue<Q>]?: JobHandler<N> };

export interface JobWorkerOptions<Q extends QueueName> {
  /** The catalog queue whose jobs it runs. */
  queue: Q;
  /** The BullMQ queue it consumes, when not `queue` itself: a provider's step queue (`stepQueueName`). Default: `queue`. */
  queueName?: string;
  handlers: JobHandlers<Q>;
  /** A `worker`-role connection (`maxRetriesPerRequest: null`). BullMQ duplicates it twice
   * (commands + blocking fetch) and closes the duplicates; the original stays the caller's. */
  connection: Redis;
  /** Key prefix (env `QUEUE_PREFIX`); must match the producer's. Default: `ensemble`. */
  prefix?: string;
  /** Jobs in flight per process (env `WORKER_CONCURRENCY` for steps). Default: 1. */
  concurrency?: number;
  /** Ms a job stays locked without renewal before it counts as stalled. Default: 30000. */
  lockDuration?: number;
  /** Ms between checks for stalled jobs. Default: 30000. */
  stalledInterval?: number;
  /**
   * Times a job may stall (its worker died) and be retried before it fails. Default: 3 —
   * a rolling deploy kills workers mid-job, and failing a flow for two restarts is worse
   * than re-running an idempotent job (BullMQ's own default is 1).
   */
  maxStalledCount?: number;
  /** Worker name stored on the jobs it runs (visible in Bull Board). Default: none. */
  name?: string;
  /** Worker-level errors (connection trouble, lock renewal). Default: BullMQ logs to stderr. */
  onError?: (err: Error) => void;
}

/** Error thrown to BullMQ so it fails the job now; the original stays in `cause`. */
function unrecoverable(message: string, cause?: unknown): UnrecoverableError {
  const error = new UnrecoverableError(message);
  if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
  return error;
}

/**
 * BullMQ keeps a failed job's message and stack in Redis (and shows them in Bull Board) for
 * days: a secret an error quotes is masked in both first (see redactSecrets).
 */
function withoutSecrets(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const message = redactSecrets(err.message);
  const stack = err.stack === undefined ? undefined : redactSecrets(err.stack);
  if (message === err.message && stack === err.stack) return err;
  try {
    err.message = message;
    if (stack !== undefined) err.stack = stack;
    return err;
  } catch {
    // Some drivers' errors have a read-only `stack` (postgres.js): hand BullMQ a copy instead.
    const copy = new Error(message, { cause: err });
    copy.name = err.name;
    if (stack !== undefined) copy.stack = stack;
    if ("code" in err) Object.assign(copy, { code: err.code });
    return copy;
  }
}

/**
 * A BullMQ worker that validates and dispatches catalog jobs by `job.name`. An unknown
 * job, a job without a handler, and a payload that fails its schema are failed at once
 * (retrying identical data cannot help).
 */
export function createJobWorker<Q extends QueueName>(options: JobWorkerOptions<Q>): Worker {
  const handlers = options.handlers as Partial<Record<JobName, JobHandler<JobName>>>;

  // Three declared parameters: BullMQ only creates per-job AbortSignals for processors
  // whose `length` is at least 3.
  const processor = async (job: Job, _token?: string, signal?: AbortSignal): Promise<unknown> => {
    const name = job.name;
    if (!isJobName(name) || JOB_CATALOG[name].queue !== options.queue) {
      throw unrecoverable(`unknown job "${name}" on queue "${options.queueName ?? options.queue}"`);
    }
    const handler = handlers[name];
    if (!handler) throw unrecoverable(`no handler for job "${name}" in this worker`);

    let payload: JobPayload<JobName>;
    try {
      payload = parseJobPayload(name, job.data);
    } catch (err) {
      if (err instanceof InvalidJobPayloadError) throw unrecoverable(err.message, err);
      throw err;
    }

    try {
      return await handler(payload, job, signal);
    } catch (err) {
      if (err instanceof NonRetryableJobError) throw withoutSecrets(unrecoverable(`${err.code}: ${err.message}`, err));
      throw withoutSecrets(err);
    }
  };

  const worker = new Worker(options.queueName ?? options.queue, processor, {
    connection: options.connection,
    prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
    concurrency: options.concurrency ?? 1,
    lockDuration: options.lockDuration ?? 30_000,
    stalledInterval: options.stalledInterval ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 3,
    ...(options.name !== undefined ? { name: options.name } : {}),
  });
  if (options.onError) worker.on("error", options.onError);
  return worker;
}
