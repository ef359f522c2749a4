import type { RunPriority } from "@ensemble/core";
import { Job, type Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { JobDispatch } from "./job-catalog.js";
import type { PreparedJob } from "./job-options.js";
import { defineRedisScript, type RedisScript } from "./redis-script.js";

/*
 * Per-user fair sharing of a step queue, on BullMQ priorities (lower runs first; 1 to
 * 2,097,151; a prioritized add costs O(log n)). The range is cut into one band per priority
 * class, and inside a band a job's place is its user's waiting rank: the k-th waiting step of
 * every user sorts together, so users take turns, and a newcomer's first step goes ahead of a
 * flooding user's backlog. Aging moves a user's oldest waiting step, when it is low or
 * normal and has waited long, one band up at rank 1 there: one step per user at a time, so a
 * flooder's aged backlog never sorts ahead of a newcomer's first step as a whole.
 */

/** The width of one priority class's band of BullMQ priorities: three bands fit under BullMQ's 2^21 - 1. */
export const PRIORITY_CLASS_WIDTH = 699_050;
const CLASS_ORDER: readonly RunPriority[] = ["high", "normal", "low"];

/** The BullMQ priority of a user's `rank`-th waiting step (1 = their first) in a class; ranks past the band share its end. */
export function fairPriority(priority: RunPriority, rank: number): number {
  const inBand = Math.min(Math.max(Math.floor(rank), 1), PRIORITY_CLASS_WIDTH);
  return CLASS_ORDER.indexOf(priority) * PRIORITY_CLASS_WIDTH + inBand;
}

/** The class a BullMQ priority given by `fairPriority` belongs to. */
export function priorityClassOf(bullPriority: number): RunPriority {
  const band = Math.floor((bullPriority - 1) / PRIORITY_CLASS_WIDTH);
  return CLASS_ORDER[Math.min(Math.max(band, 0), CLASS_ORDER.length - 1)] as RunPriority;
}

/** The class an aged job of `priority` moves to; null when it is already the highest. */
export function promotedClass(priority: RunPriority): RunPriority | null {
  const index = CLASS_ORDER.indexOf(priority);
  return index > 0 ? (CLASS_ORDER[index - 1] as RunPriority) : null;
}

/** States in which a job waits to start (a delayed job takes its new priority when its delay ends). */
const WAITING_STATES: ReadonlySet<string> = new Set(["waiting", "prioritized", "delayed"]);

/** A waiting entry older than this is dropped (its job was removed without starting, e.g. a queue wiped). */
const STALE_WAITING_MS = 60 * 60_000;

// KEYS: the user's waiting zset, the queue's aging zset (users, by when their aging clock started).
// ARGV: now, staleBefore, user id, then per job: id, ages (1/0). A job's rank is its place among its
// user's waiting jobs, by enqueue time (an add that was a no-op keeps its place).
const RANK_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local ranks = {}
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[i])
  ranks[#ranks + 1] = redis.call('ZRANK', KEYS[1], ARGV[i]) + 1
  if ARGV[i + 1] == '1' then redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[3]) end
end
redis.call('PEXPIRE', KEYS[1], ${STALE_WAITING_MS})
return ranks
`;

// KEYS: the user's waiting zset, the user's in-flight zset.
// ARGV: job id, now, cap (0 = none), slot ttl. The job no longer waits; returns 1 when it may run, 0 over the cap.
const START_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[3])
if cap == 0 then return 1 end
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZSCORE', KEYS[2], ARGV[1]) == false and redis.call('ZCARD', KEYS[2]) >= cap then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
return 1
`;

// Versioned: a changed script never reuses an older definition on a shared connection.
const RANK_COMMAND = "ensembleFairRankV2";
const START_COMMAND = "ensembleFairStartV2";

export interface FairShareOptions {
  connection: Redis;
  prefix: string;
  /** The BullMQ queue of a name (the producer's). */
  queue: (name: string) => Queue;
  /** false: dispatch is ignored and step jobs are FIFO (env FAIR_SHARE=false). Default: true. */
  enabled?: boolean;
}

/** A step admitted under its user's `maxInFlightSteps`: renew it while it runs, release it when it ends. */
export interface InFlightSlot {
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** What a worker is told when it starts a step job: run it (holding a slot), or put it back. */
export type StepAdmission = { admitted: true; slot: InFlightSlot } | { admitted: false };

/**
 * Priorities and per-user in-flight caps of step jobs, in Redis (shared by every process).
 * Owned by the JobProducer, which ranks the step jobs it adds.
 */
export class FairShare {
  readonly enabled: boolean;
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly queue: (name: string) => Queue;
  private readonly rankScript: RedisScript;
  private readonly startScript: RedisScript;

  constructor(options: FairShareOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix;
    this.queue = options.queue;
    this.enabled = options.enabled ?? true;
    this.rankScript = defineRedisScript(this.connection, RANK_COMMAND, RANK_SCRIPT, 2);
    this.startScript = defineRedisScript(this.connection, START_COMMAND, START_SCRIPT, 2);
  }

  /**
   * Gives each step job that carries a dispatch (and is not LIFO) its BullMQ priority: its
   * class's band plus its user's waiting rank in its queue. One script call per queue and user.
   */
  async rank(jobs: readonly PreparedJob[]): Promise<void> {
    if (!this.enabled) return;
    const groups = new Map<string, { queue: string; userId: string; jobs: PreparedJob[] }>();
    for (const job of jobs) {
      const dispatch = dispatchOf(job.data);
      if (!dispatch || job.opts.lifo) continue;
      const key = JSON.stringify([job.queue, dispatch.userId]);
      const group = groups.get(key) ?? { queue: job.queue, userId: dispatch.userId, jobs: [] };
      group.jobs.push(job);
      groups.set(key, group);
    }
    const now = Date.now();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const args = group.jobs.flatMap((job) => {
          const priority = dispatchOf(job.data)?.priority;
          return [job.opts.jobId, priority === "high" ? 0 : 1];
        });
        const ranks = (await this.rankScript(
          this.waitingKey(group.queue, group.userId),
          this.agingKey(group.queue),
          now,
          now - STALE_WAITING_MS,
          group.userId,
          ...args,
        )) as number[];
        group.jobs.forEach((job, i) => {
          const priority = dispatchOf(job.data)?.priority ?? "normal";
          job.opts.priority = fairPriority(priority, ranks[i] ?? 1);
        });
      }),
    );
  }

  /**
   * A worker starts a step job: it leaves its user's waiting set (their steps enqueued next
   * rank one place higher), and, with a cap, it takes one of its user's in-flight slots, or is
   * refused.
   */
  async start(
    queue: string,
    jobId: string,
    dispatch: JobDispatch,
    cap: number | null,
    slotTtlMs: number,
  ): Promise<StepAdmission> {
    const inFlightKey = this.inFlightKey(dispatch.userId);
    const admitted = await this.startScript(
      this.waitingKey(queue, dispatch.userId),
      inFlightKey,
      jobId,
      Date.now(),
      cap ?? 0,
      slotTtlMs,
    );
    if (admitted !== 1) return { admitted: false };
    if (cap === null) return { admitted: true, slot: { renew: async () => undefined, release: async () => undefined } };
    return {
      admitted: true,
      slot: {
        renew: async () => void (await this.connection.zadd(inFlightKey, "XX", Date.now() + slotTtlMs, jobId)),
        release: async () => void (await this.connection.zrem(inFlightKey, jobId)),
      },
    };
  }

  /**
   * Promotes, in each of `queues`, the oldest waiting step of every user whose aging clock
   * started more than `olderThanMs` ago (at most `limit` users per queue per call), when it is
   * low or normal: one class up, at rank 1 there. The user's clock then starts again, so a
   * promoted normal step that still waits becomes high one period later, and the user's next
   * step ages after it. Returns how many steps were promoted.
   */
  async age(queues: readonly string[], olderThanMs: number, limit = 500): Promise<number> {
    if (!this.enabled) return 0;
    const cutoff = Date.now() - olderThanMs;
    let promoted = 0;
    for (const name of queues) {
      const agingKey = this.agingKey(name);
      const users = await this.connection.zrangebyscore(agingKey, "-inf", cutoff, "LIMIT", 0, limit);
      for (const userId of users) {
        const waitingKey = this.waitingKey(name, userId);
        const [oldest] = await this.connection.zrange(waitingKey, "0", "0");
        if (oldest === undefined) {
          await this.connection.zrem(agingKey, userId);
          continue;
        }
        const job = await Job.fromId(this.queue(name), oldest);
        if (!job || !WAITING_STATES.has(await job.getState())) {
          // Gone without starting (or started elsewhere): the user's next step is looked at next time.
          await this.connection.zrem(waitingKey, oldest);
          continue;
        }
        const next = promotedClass(priorityClassOf(job.priority));
        if (next) {
          await job.changePriority({ priority: fairPriority(next, 1) });
          promoted += 1;
        }
        await this.connection.zadd(agingKey, "XX", Date.now(), userId);
      }
    }
    return promoted;
  }

  private waitingKey(queue: string, userId: string): string {
    return `${this.prefix}:${queue}:fair:waiting:${userId}`;
  }

  private agingKey(queue: string): string {
    return `${this.prefix}:${queue}:fair:aging`;
  }

  private inFlightKey(userId: string): string {
    return `${this.prefix}:fair:in-flight:${userId}`;
  }
}

function dispatchOf(data: Record<string, unknown>): JobDispatch | undefined {
  return data.dispatch as JobDispatch | undefined;
}
