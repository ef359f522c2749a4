import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { FairShare } from "./fair-share.js";
import type { JobName, JobPayload } from "./job-catalog.js";
import { prepareJob, type AddJobOptions, type PreparedJob, type RetryPolicyOverrides } from "./job-options.js";
import { DEFAULT_QUEUE_PREFIX, QUEUE_NAMES, stepQueueName } from "./queue-names.js";
import { callRedis } from "./redis-availability.js";
import { readRedisMemory, type RedisMemory } from "./redis-memory.js";

export interface JobProducerOptions {
  /**
   * A `producer`-role connection (fail fast: the API) or a `worker`-role one (commands wait
   * out an outage: a scheduler enqueueing from inside a job). The caller owns it; `close()`
   * leaves it open.
   */
  connection: Redis;
  /** Key prefix of all queues (env `QUEUE_PREFIX`). Default: `ensemble`. */
  prefix?: string;
  /**
   * With a fail-fast connection: how long a call waits for a connection that is
   * (re)connecting before it throws `RedisUnavailableError`. Default: 1000 ms.
   */
  readyTimeoutMs?: number;
  /** Changes to the catalog's attempts/backoff per job name. Default: none. */
  retryOverrides?: RetryPolicyOverrides;
  /** Background queue errors (every failed add also rejects its promise). Default: ignored. */
  onError?: (err: Error) => void;
  /**
   * Rank step jobs that carry a dispatch per user and priority class (see FairShare); false
   * leaves them FIFO (env FAIR_SHARE=false). Default: true.
   */
  fairShare?: boolean;
}

/** What an add returns: the job's id (the existing one if the add was a no-op). */
export interface EnqueuedJob {
  id: string;
  name: JobName;
  /** The BullMQ queue: the catalog's, or a provider's step queue (`steps-openai`). */
  queue: string;
}

/** One entry of `addBulk`; the union keeps each payload tied to its name. */
export type BulkJob = { [N in JobName]: { name: N; payload: JobPayload<N>; options?: AddJobOptions } }[JobName];

/** Jobs per state, for metrics and autoscaling on queue depth. */
export interface QueueDepth {
  /** Ready to run: the wait list plus prioritized jobs (an autoscaler must count both). */
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface UpsertScheduleOptions {
  /** Interval between runs in ms, or a cron pattern (5 or 6 fields) in an IANA time zone. */
  every: number | { cron: string; timezone: string };
  /** Scheduler id; upserting the same id replaces the schedule. Default: the job name. */
  schedulerId?: string;
}

/**
 * Adds catalog jobs to their queues. Long-lived: one per process, sharing its connection.
 * Queues are created lazily, one per queue name.
 */
export class JobProducer {
  readonly prefix: string;
  private readonly connection: Redis;
  private readonly readyTimeoutMs: number;
  private readonly retryOverrides: RetryPolicyOverrides;
  private readonly onError: (err: Error) => void;
  private readonly queues = new Map<string, Queue>();
  /** Per-user fair sharing of the step queues: ranks the step jobs added here; workers start them through it. */
  readonly fairShare: FairShare;

  constructor(options: JobProducerOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.retryOverrides = options.retryOverrides ?? {};
    this.onError = options.onError ?? (() => undefined);
    this.fairShare = new FairShare({
      connection: this.connection,
      prefix: this.prefix,
      queue: (name) => this.queue(name),
      enabled: options.fairShare ?? true,
    });
    // Created now, so BullMQ defines its scripts on the connection before anything is sent:
    // an auto-pipelining connection copies commands into each pipeline when it creates it,
    // and a script defined later in the same turn would be missing from it. (No Redis call:
    // readiness and the version check are skipped, see `queue`.)
    for (const name of Object.values(QUEUE_NAMES)) this.queue(name);
  }

  /** Validates the payload and adds the job with catalog defaults and a deterministic id. */
  async add<N extends JobName>(name: N, payload: JobPayload<N>, options: AddJobOptions = {}): Promise<EnqueuedJob> {
    const job = prepareJob(name, payload, options, this.retryOverrides);
    const added = await this.redis(`add ${name}`, async () => {
      await this.fairShare.rank([job]);
      return this.queue(job.queue).add(job.name, job.data, job.opts);
    });
    return { id: added.id ?? job.opts.jobId, name: job.name, queue: job.queue };
  }

  /**
   * Adds many jobs with one round trip per queue. All payloads are validated before any
   * job is added. Returns the jobs in input order.
   */
  async addBulk(jobs: readonly BulkJob[]): Promise<EnqueuedJob[]> {
    const prepared = jobs.map((job) => prepareJob(job.name, job.payload as never, job.options, this.retryOverrides));
    if (prepared.length === 0) return [];
    const byQueue = new Map<string, PreparedJob[]>();
    for (const job of prepared) {
      const group = byQueue.get(job.queue) ?? [];
      group.push(job);
      byQueue.set(job.queue, group);
    }
    await this.redis("addBulk", async () => {
      await this.fairShare.rank(prepared);
      if (this.connection.options.enableAutoPipelining) {
        // One add each: they join the connection's auto-pipeline, behind whatever was issued
        // before them (e.g. the events of the commit that caused them). A queue's own
        // addBulk pipeline would be written at once, ahead of those.
        await Promise.all(prepared.map((job) => this.queue(job.queue).add(job.name, job.data, job.opts)));
      } else {
        await Promise.all(
          [...byQueue].map(([queueName, group]) =>
            this.queue(queueName).addBulk(group.map((job) => ({ name: job.name, data: job.data, opts: job.opts }))),
          ),
        );
      }
    });
    return prepared.map((job) => ({ id: job.opts.jobId, name: job.name, queue: job.queue }));
  }

  /**
   * Creates or replaces a repeating job (e.g. `flow.sweep`). BullMQ 6 dropped `repeat` from
   * `Queue.add`; job schedulers are the way, and they dedupe across producers by id.
   */
  async upsertSchedule<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options: UpsertScheduleOptions,
  ): Promise<void> {
    const { opts, data, queue } = prepareJob(name, payload, {}, this.retryOverrides);
    const { jobId: _ignored, ...templateOpts } = opts;
    await this.redis(`upsertSchedule ${name}`, () =>
      this.queue(queue).upsertJobScheduler(
        options.schedulerId ?? name,
        typeof options.every === "number"
          ? { every: options.every }
          : { pattern: options.every.cron, tz: options.every.timezone },
        { name, data, opts: templateOpts },
      ),
    );
  }

  /** Removes a schedule made by `upsertSchedule`; true if it existed. */
  async removeSchedule(queue: string, schedulerId: string): Promise<boolean> {
    return this.redis("removeSchedule", () => this.queue(queue).removeJobScheduler(schedulerId));
  }

  /**
   * The BullMQ queues, e.g. for Bull Board: the catalog's (`flows`, the plain `steps`) and the
   * step queue of each of `providers` (the provider catalog's keys).
   */
  getQueues(providers: readonly string[] = []): Queue[] {
    return queueNames(providers).map((name) => this.queue(name));
  }

  /** Redis' memory use, limit and eviction policy (INFO memory). */
  async memory(): Promise<RedisMemory> {
    return this.redis("memory", () => readRedisMemory(this.connection));
  }

  /** Job counts per queue and state: the catalog's queues and the step queue of each of `providers`. */
  async queueDepths(providers: readonly string[] = []): Promise<Record<string, QueueDepth>> {
    return this.redis("queueDepths", async () => {
      const entries = await Promise.all(
        queueNames(providers).map(async (name) => {
          const counts = await this.queue(name).getJobCounts("wait", "prioritized", "active", "delayed", "failed");
          const count = (state: string): number => counts[state] ?? 0;
          const depth: QueueDepth = {
            waiting: count("wait") + count("prioritized"),
            active: count("active"),
            delayed: count("delayed"),
            failed: count("failed"),
          };
          return [name, depth] as const;
        }),
      );
      return Object.fromEntries(entries);
    });
  }

  /** One Redis operation, waiting out a reconnect briefly; unreachable Redis is RedisUnavailableError. */
  private redis<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return callRedis(this.connection, this.readyTimeoutMs, operation, call);
  }

  /** Closes the queues; the connection stays open (it belongs to the caller). */
  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((queue) => queue.close()));
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.connection,
        prefix: this.prefix,
        // BullMQ's one-shot init (wait for ready, INFO for the version check) would either
        // hang while Redis is down or, if it failed once, break this Queue for good. We
        // wait for readiness ourselves on every call; workers still check the version.
        skipWaitingForReady: true,
        skipVersionCheck: true,
      });
      queue.on("error", this.onError);
      this.queues.set(name, queue);
    }
    return queue;
  }
}

function queueNames(providers: readonly string[]): string[] {
  return [...Object.values(QUEUE_NAMES), ...[...new Set(providers)].sort().map(stepQueueName)];
}
