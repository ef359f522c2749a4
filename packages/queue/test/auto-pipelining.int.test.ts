import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { ClusterMetrics } from "../src/cluster-metrics.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { jobIdFor } from "../src/job-id.js";
import { JobProducer } from "../src/job-producer.js";
import { ProgressBus } from "../src/progress-bus.js";
import { deleteKeys, randomPrefix, REDIS_URL, waitUntil } from "./helpers/redis-test-env.js";
import { EVENT_DATA } from "./helpers/event-data.js";

// What a step worker sends after a commit — its events, its next job, its metrics — on one
// auto-pipelining producer connection: one write, and Redis runs it in the order it was issued.
const prefix = randomPrefix();
let producerConnection: Redis;
let monitorConnection: Redis;
let bus: ProgressBus;
let producer: JobProducer;

beforeAll(() => {
  producerConnection = createRedisConnection({
    url: REDIS_URL,
    role: "producer",
    name: `${prefix}-producer`,
    autoPipelining: true,
  });
  monitorConnection = createRedisConnection({ url: REDIS_URL, role: "worker", name: `${prefix}-monitor` });
  bus = new ProgressBus({ publisher: producerConnection, prefix });
  producer = new JobProducer({ connection: producerConnection, prefix });
});

afterAll(async () => {
  await producer.close();
  await Promise.all([closeRedisConnection(producerConnection), closeRedisConnection(monitorConnection)]);
  await deleteKeys(prefix);
});

describe("an auto-pipelining producer connection", () => {
  it("is only what autoPipelining asks for", async () => {
    expect(producerConnection.options.enableAutoPipelining).toBe(true);
    const plain = createRedisConnection({ url: REDIS_URL, role: "producer", name: `${prefix}-plain` });
    expect(plain.options.enableAutoPipelining).toBeFalsy();
    await closeRedisConnection(plain);
  });

  it("survives its first turn: scripts defined by the bus and the producer are in the first pipeline", async () => {
    const fresh = createRedisConnection({
      url: REDIS_URL,
      role: "producer",
      name: `${prefix}-fresh`,
      autoPipelining: true,
    });
    try {
      const freshBus = new ProgressBus({ publisher: fresh, prefix });
      const freshProducer = new JobProducer({ connection: fresh, prefix });
      const flowId = randomUUID();
      await Promise.all([
        freshBus.publish(flowId, "flow_start", { data: EVENT_DATA.flow_start }),
        freshProducer.addBulk([{ name: "flow.start", payload: { flowId, run: 1 } }]),
        freshBus.publish(flowId, "step_start", { stepId: "one", data: EVENT_DATA.step_start }),
      ]);
      expect((await freshBus.readAfter(flowId, 0)).map((e) => e.type)).toEqual(["flow_start", "step_start"]);
      await freshProducer.close();
    } finally {
      await closeRedisConnection(fresh);
    }
  });

  it("runs a commit's events before the job they announce, even when the job is added in the same turn", async () => {
    // Both scripts loaded first, so what MONITOR shows below is one command each.
    const warmUp = randomUUID();
    await bus.publish(warmUp, "step_start", { data: EVENT_DATA.step_start });
    await producer.addBulk([
      { name: "step.run", payload: { flowId: warmUp, run: 1, stepId: "x", iteration: 0, attempt: 0 } },
    ]);

    const flowId = randomUUID();
    const seen: string[] = [];
    const monitor = await monitorConnection.monitor();
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      // Top-level commands only (not those the scripts run).
      if (source === "lua" || !args.some((a) => a.includes(flowId))) return;
      seen.push(args.some((a) => a.endsWith(":seq")) ? "event" : "job");
    });
    try {
      await Promise.all([
        bus.publish(flowId, "step_complete", { stepId: "one", data: EVENT_DATA.step_complete }),
        bus.publish(flowId, "flow_complete", { data: EVENT_DATA.flow_complete }),
        producer.addBulk([{ name: "step.run", payload: { flowId, run: 1, stepId: "two", iteration: 0, attempt: 0 } }]),
      ]);
      await waitUntil(() => seen.length >= 3, 5_000, "the three commands in MONITOR");
    } finally {
      monitor.disconnect();
    }
    expect(seen).toEqual(["event", "event", "job"]);
    expect((await bus.readAfter(flowId, 0)).map((e) => [e.id, e.type])).toEqual([
      [1, "step_complete"],
      [2, "flow_complete"],
    ]);
    const jobs = await producer
      .getQueues()
      .find((q) => q.name === "steps")
      ?.getJob(jobIdFor("step.run", { flowId, run: 1, stepId: "two", iteration: 0, attempt: 0 }));
    expect(jobs?.data).toMatchObject({ flowId, stepId: "two" });
  });

  it("records step metrics on an auto-pipelining connection, in the same write as other commands", async () => {
    const metrics = new ClusterMetrics({ connection: producerConnection, prefix });
    await Promise.all([
      metrics.recordStep({
        provider: "sim",
        model: "pipelined",
        status: "success",
        durationMs: 40,
        promptTokens: 10,
        completionTokens: 5,
        costUsd: 0.001,
      }),
      metrics.recordStep({
        provider: "sim",
        model: "pipelined",
        status: "failed",
        errorCode: "timeout",
        durationMs: 700,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: null,
      }),
    ]);
    const snapshot = await metrics.snapshot();
    expect(snapshot.steps).toEqual(
      expect.arrayContaining([
        { provider: "sim", model: "pipelined", status: "success", count: 1 },
        { provider: "sim", model: "pipelined", status: "failed", count: 1 },
      ]),
    );
    expect(snapshot.tokens).toEqual(
      expect.arrayContaining([{ provider: "sim", model: "pipelined", kind: "prompt", count: 10 }]),
    );
    expect(snapshot.cost[0]?.usd).toBeCloseTo(0.001, 10);
    expect(snapshot.errors).toEqual([{ provider: "sim", code: "timeout", count: 1 }]);
    expect(snapshot.latency.find((l) => l.model === "pipelined")?.sumSeconds).toBeCloseTo(0.74, 10);
  });
});
