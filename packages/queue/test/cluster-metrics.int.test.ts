import type { Redis } from "ioredis";
import { ClusterMetrics, RUN_DURATION_BUCKETS_SECONDS, STEP_LATENCY_BUCKETS_SECONDS } from "../src/cluster-metrics.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { deleteKeys, randomPrefix, REDIS_URL } from "./helpers/redis-test-env.js";

const prefix = randomPrefix();
let workerA: Redis;
let workerB: Redis;

beforeAll(() => {
  workerA = createRedisConnection({ url: REDIS_URL, role: "producer", name: `${prefix}-a` });
  workerB = createRedisConnection({ url: REDIS_URL, role: "producer", name: `${prefix}-b` });
});

afterAll(async () => {
  await Promise.all([closeRedisConnection(workerA), closeRedisConnection(workerB)]);
  await deleteKeys(prefix);
});

const bucketIndex = (le: number): number =>
  STEP_LATENCY_BUCKETS_SECONDS.indexOf(le as (typeof STEP_LATENCY_BUCKETS_SECONDS)[number]);

describe("ClusterMetrics", () => {
  it("adds up samples recorded by two processes into one snapshot", async () => {
    // Two instances on two connections stand for two worker processes.
    const a = new ClusterMetrics({ connection: workerA, prefix });
    const b = new ClusterMetrics({ connection: workerB, prefix });
    await Promise.all([
      a.recordStep({
        provider: "sim",
        model: "echo",
        status: "success",
        durationMs: 40,
        promptTokens: 10,
        completionTokens: 5,
        costUsd: 0.001,
      }),
      b.recordStep({
        provider: "sim",
        model: "echo",
        status: "success",
        durationMs: 700,
        promptTokens: 20,
        completionTokens: 7,
        costUsd: 0.002,
      }),
      b.recordStep({
        provider: "openai",
        model: "gpt-4o",
        status: "failed",
        errorCode: "rate_limited",
        durationMs: 400_000,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: null,
      }),
    ]);

    const snapshot = await a.snapshot();
    expect(snapshot.steps).toEqual(
      expect.arrayContaining([
        { provider: "sim", model: "echo", status: "success", count: 2 },
        { provider: "openai", model: "gpt-4o", status: "failed", count: 1 },
      ]),
    );
    expect(snapshot.tokens).toEqual(
      expect.arrayContaining([
        { provider: "sim", model: "echo", kind: "prompt", count: 30 },
        { provider: "sim", model: "echo", kind: "completion", count: 12 },
      ]),
    );
    expect(snapshot.tokens.some((t) => t.provider === "openai")).toBe(false); // zero tokens write nothing
    expect(snapshot.cost).toHaveLength(1);
    expect(snapshot.cost[0]?.usd).toBeCloseTo(0.003, 10);
    expect(snapshot.errors).toEqual([{ provider: "openai", code: "rate_limited", count: 1 }]);

    const sim = snapshot.latency.find((l) => l.provider === "sim");
    expect(sim?.count).toBe(2);
    expect(sim?.sumSeconds).toBeCloseTo(0.74, 10);
    // Cumulative: 40 ms is in every bucket from 0.05 s on, 700 ms from 1 s on.
    expect(sim?.buckets[bucketIndex(0.05)]).toBe(1);
    expect(sim?.buckets[bucketIndex(0.5)]).toBe(1);
    expect(sim?.buckets[bucketIndex(1)]).toBe(2);
    expect(sim?.buckets.at(-1)).toBe(2);
    // 400 s is past the last bound: only the count (the +Inf bucket) has it.
    const slow = snapshot.latency.find((l) => l.provider === "openai");
    expect(slow?.buckets.at(-1)).toBe(0);
    expect(slow?.count).toBe(1);
  });

  it("adds up the runs that ended, by flow type and status, into a duration histogram", async () => {
    const runsPrefix = `${prefix}-runs`;
    const a = new ClusterMetrics({ connection: workerA, prefix: runsPrefix });
    const b = new ClusterMetrics({ connection: workerB, prefix: runsPrefix });
    try {
      await Promise.all([
        a.recordRun({ flowType: "sequential", status: "completed", durationMs: 800 }),
        b.recordRun({ flowType: "sequential", status: "completed", durationMs: 45_000 }),
        b.recordRun({ flowType: "parallel", status: "failed", durationMs: 2 * 3_600_000 }),
      ]);
      const { runs } = await a.snapshot();
      const at = (le: number) =>
        RUN_DURATION_BUCKETS_SECONDS.indexOf(le as (typeof RUN_DURATION_BUCKETS_SECONDS)[number]);
      const completed = runs.find((r) => r.flowType === "sequential" && r.status === "completed");
      expect(completed?.count).toBe(2);
      expect(completed?.sumSeconds).toBeCloseTo(45.8, 10);
      // Cumulative: 0.8 s is in every bucket from 1 s on, 45 s from 60 s on.
      expect(completed?.buckets[at(0.5)]).toBe(0);
      expect(completed?.buckets[at(1)]).toBe(1);
      expect(completed?.buckets[at(30)]).toBe(1);
      expect(completed?.buckets[at(60)]).toBe(2);
      // Two hours is past the last bound: only the count (the +Inf bucket) has it.
      const failed = runs.find((r) => r.flowType === "parallel" && r.status === "failed");
      expect(failed).toMatchObject({ count: 1, sumSeconds: 7_200 });
      expect(failed?.buckets.at(-1)).toBe(0);
      expect(runs).toHaveLength(2);
    } finally {
      await deleteKeys(runsPrefix);
    }
  });

  it("keeps everything in one hash under the prefix (one key: valid in a MULTI on Redis Cluster)", async () => {
    const metrics = new ClusterMetrics({ connection: workerA, prefix });
    expect(metrics.key).toBe(`${prefix}:metrics:steps`);
    expect(await workerA.type(metrics.key)).toBe("hash");
    expect(await workerA.keys(`${prefix}:metrics:*`)).toEqual([metrics.key]);
  });

  it("clamps long label values", async () => {
    const metrics = new ClusterMetrics({ connection: workerA, prefix: `${prefix}-long` });
    try {
      await metrics.recordStep({
        provider: "sim",
        model: "m".repeat(500),
        status: "success",
        durationMs: 1,
        promptTokens: 1,
        completionTokens: 1,
        costUsd: 0,
      });
      const snapshot = await metrics.snapshot();
      expect(snapshot.steps[0]?.model).toHaveLength(100);
    } finally {
      await deleteKeys(`${prefix}-long`);
    }
  });

  it("fails fast with RedisUnavailableError when Redis is unreachable", async () => {
    const dead = createRedisConnection({ url: "redis://127.0.0.1:1", role: "producer", name: "dead" });
    try {
      const metrics = new ClusterMetrics({ connection: dead, prefix, readyTimeoutMs: 200 });
      await expect(metrics.snapshot()).rejects.toMatchObject({ name: "RedisUnavailableError" });
      await expect(
        metrics.recordStep({
          provider: "sim",
          model: "echo",
          status: "success",
          durationMs: 1,
          promptTokens: 0,
          completionTokens: 0,
          costUsd: null,
        }),
      ).rejects.toMatchObject({
        name: "RedisUnavailableError",
      });
    } finally {
      await closeRedisConnection(dead);
    }
  });
});
