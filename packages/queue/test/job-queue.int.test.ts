import { randomUUID } from "node:crypto";
import { registerSecretValues } from "@ensemble/core";
import type { Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { closeGracefully } from "../src/close-gracefully.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { NonRetryableJobError } from "../src/errors/non-retryable-job-error.js";
import type { JobPayload } from "../src/job-catalog.js";
import { jobIdFor } from "../src/job-id.js";
import { JobProducer } from "../src/job-producer.js";
import { stepQueueName } from "../src/queue-names.js";
import { createJobWorker } from "../src/job-worker.js";
import { deleteKeys, randomPrefix, REDIS_URL, sleep, waitUntil } from "./helpers/redis-test-env.js";

type StepPayload = JobPayload<"step.run">;
type StepBehaviour = (payload: StepPayload, job: Job) => Promise<unknown>;

const prefix = randomPrefix();
const connections: Redis[] = [];
const connect = (role: "worker" | "producer"): Redis => {
  const redis = createRedisConnection({ url: REDIS_URL, role, name: `${prefix}-${role}` });
  connections.push(redis);
  return redis;
};

// One worker per queue for the whole file; each test picks behaviour by its own flow id.
const stepBehaviours = new Map<string, StepBehaviour>();
const stepCalls = new Map<string, StepPayload[]>();
const flowCalls: { name: string; payload: unknown; at: number }[] = [];

let producer: JobProducer;
let stepWorker: Worker;
let flowWorker: Worker;
let stepsQueue: Queue;

function newStep(overrides: Partial<StepPayload> = {}): StepPayload {
  return { flowId: randomUUID(), run: 1, stepId: "draft", iteration: 0, attempt: 0, ...overrides };
}

async function stateOf(jobId: string): Promise<string> {
  return stepsQueue.getJobState(jobId);
}

beforeAll(async () => {
  producer = new JobProducer({
    connection: connect("producer"),
    prefix,
    // Catalog backoff (500 ms doubling, 20 attempts) is far too slow for a test.
    retryOverrides: { "step.run": { attempts: 3, backoff: { type: "fixed", delay: 20 } } },
  });
  const queues = producer.getQueues();
  stepsQueue = queues.find((queue) => queue.name === "steps") as Queue;

  stepWorker = createJobWorker({
    queue: "steps",
    connection: connect("worker"),
    prefix,
    concurrency: 8,
    handlers: {
      "step.run": async (payload, job) => {
        const calls = stepCalls.get(payload.flowId) ?? [];
        calls.push(payload);
        stepCalls.set(payload.flowId, calls);
        const behaviour = stepBehaviours.get(payload.flowId);
        return behaviour ? behaviour(payload, job) : { ok: true };
      },
    },
  });
  flowWorker = createJobWorker({
    queue: "flows",
    connection: connect("worker"),
    prefix,
    handlers: {
      "flow.start": async (payload) => {
        flowCalls.push({ name: "flow.start", payload, at: Date.now() });
      },
      "flow.sweep": async (payload) => {
        flowCalls.push({ name: "flow.sweep", payload, at: Date.now() });
      },
    },
  });
  await Promise.all([stepWorker.waitUntilReady(), flowWorker.waitUntilReady()]);
});

afterAll(async () => {
  try {
    await Promise.all([stepWorker?.close(), flowWorker?.close()]);
    await producer?.close();
    await Promise.all(connections.map(closeRedisConnection));
  } finally {
    await deleteKeys(prefix);
  }
});

describe("JobProducer + createJobWorker", () => {
  it("round-trips a job with catalog defaults and its deterministic id", async () => {
    const payload = newStep({ label: "Translation Pipeline › draft #1" });
    const added = await producer.add("step.run", payload);
    expect(added).toEqual({ id: jobIdFor("step.run", payload), name: "step.run", queue: "steps" });

    await waitUntil(async () => (await stateOf(added.id)) === "completed", 5_000, "completion");
    expect(stepCalls.get(payload.flowId)).toEqual([payload]);
    const job = await stepsQueue.getJob(added.id);
    expect(job?.name).toBe("step.run");
    expect(job?.returnvalue).toEqual({ ok: true });
    expect(job?.opts.removeOnComplete).toEqual({ age: 3600, count: 10000 });
  });

  it("runs a job added twice with the same id only once", async () => {
    const payload = newStep();
    stepBehaviours.set(payload.flowId, async () => sleep(100));
    const [first, second] = await Promise.all([producer.add("step.run", payload), producer.add("step.run", payload)]);
    expect(second.id).toBe(first.id);
    await waitUntil(async () => (await stateOf(first.id)) === "completed", 5_000, "completion");
    await producer.add("step.run", payload); // also a no-op once completed (while BullMQ keeps the job)
    await sleep(300);
    expect(stepCalls.get(payload.flowId)).toHaveLength(1);
  });

  it("holds a delayed job back until its delay has passed", async () => {
    const payload = newStep();
    const addedAt = Date.now();
    const added = await producer.add("step.run", payload, { delayMs: 700, lifo: true });
    expect(await stateOf(added.id)).toBe("delayed");
    await sleep(300);
    expect(stepCalls.get(payload.flowId)).toBeUndefined();
    await waitUntil(async () => (await stateOf(added.id)) === "completed", 5_000, "completion");
    const job = await stepsQueue.getJob(added.id);
    expect((job?.processedOn ?? 0) - addedAt).toBeGreaterThanOrEqual(650);
  });

  it("fails a job with an invalid payload at once, naming the field", async () => {
    // Bypass the producer's validation, as a stale or foreign producer would.
    const bad = await stepsQueue.add(
      "step.run",
      { flowId: "f", run: 0, stepId: "draft", iteration: 0, attempt: 0 },
      { attempts: 3, jobId: `bad_${randomUUID()}` },
    );
    await waitUntil(async () => (await stateOf(bad.id as string)) === "failed", 5_000, "failure");
    const job = await stepsQueue.getJob(bad.id as string);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/^invalid step\.run payload: run: /);
  });

  it("fails an unknown job name at once", async () => {
    const bad = await stepsQueue.add("step.nope", { flowId: "f" }, { attempts: 3, jobId: `unknown_${randomUUID()}` });
    await waitUntil(async () => (await stateOf(bad.id as string)) === "failed", 5_000, "failure");
    const job = await stepsQueue.getJob(bad.id as string);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toBe('unknown job "step.nope" on queue "steps"');
  });

  it("retries a failing handler up to the job's attempts", async () => {
    const payload = newStep();
    stepBehaviours.set(payload.flowId, async () => {
      throw new Error("database hiccup");
    });
    const added = await producer.add("step.run", payload);
    await waitUntil(async () => (await stateOf(added.id)) === "failed", 5_000, "failure");
    const job = await stepsQueue.getJob(added.id);
    expect(job?.attemptsMade).toBe(3);
    expect(job?.failedReason).toBe("database hiccup");
    expect(stepCalls.get(payload.flowId)).toHaveLength(3);
  });

  it("succeeds on a retry after a transient failure", async () => {
    const payload = newStep();
    let calls = 0;
    stepBehaviours.set(payload.flowId, async () => {
      calls += 1;
      if (calls === 1) throw new Error("transient");
      return "second time lucky";
    });
    const added = await producer.add("step.run", payload);
    await waitUntil(async () => (await stateOf(added.id)) === "completed", 5_000, "completion");
    expect(calls).toBe(2);
  });

  it("does not retry a NonRetryableJobError", async () => {
    const payload = newStep();
    stepBehaviours.set(payload.flowId, async () => {
      throw new NonRetryableJobError("flow_not_found", "flow is gone");
    });
    const added = await producer.add("step.run", payload);
    await waitUntil(async () => (await stateOf(added.id)) === "failed", 5_000, "failure");
    const job = await stepsQueue.getJob(added.id);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toBe("flow_not_found: flow is gone");
  });

  it("keeps no configured secret in a failed job's reason or stack trace", async () => {
    registerSecretValues(["queue-test-endpoint-secret"]);
    const payload = newStep();
    stepBehaviours.set(payload.flowId, async () => {
      throw new NonRetryableJobError("bad_request", "the endpoint said: key queue-test-endpoint-secret is invalid");
    });
    const added = await producer.add("step.run", payload);
    await waitUntil(async () => (await stateOf(added.id)) === "failed", 5_000, "failure");
    const job = await stepsQueue.getJob(added.id);
    expect(job?.failedReason).toBe("bad_request: the endpoint said: key [REDACTED] is invalid");
    expect(JSON.stringify(job?.stacktrace)).not.toContain("queue-test-endpoint-secret");
  });

  it("adds jobs for several queues in one addBulk", async () => {
    const steps = [newStep(), newStep(), newStep()];
    const start = { flowId: randomUUID(), run: 1 };
    const added = await producer.addBulk([
      { name: "step.run", payload: steps[0] as StepPayload },
      { name: "flow.start", payload: start },
      { name: "step.run", payload: steps[1] as StepPayload, options: { lifo: true } },
      { name: "step.run", payload: steps[2] as StepPayload, options: { priority: 5 } },
    ]);
    expect(added.map((job) => job.queue)).toEqual(["steps", "flows", "steps", "steps"]);
    expect(added[1]?.id).toBe(jobIdFor("flow.start", start));
    await waitUntil(
      () =>
        steps.every((step) => stepCalls.has(step.flowId)) &&
        flowCalls.some((call) => call.payload && (call.payload as { flowId?: string }).flowId === start.flowId),
      5_000,
      "bulk jobs",
    );
  });

  it("rejects an invalid payload before anything reaches Redis", async () => {
    const payload = newStep();
    await expect(
      producer.addBulk([
        { name: "step.run", payload },
        { name: "flow.start", payload: { flowId: "x", run: 0 } },
      ]),
    ).rejects.toThrow(/run: /);
    await sleep(100);
    expect(await stateOf(jobIdFor("step.run", payload))).toBe("unknown");
  });

  it("reports queue depths", async () => {
    const payload = newStep();
    await producer.add("step.run", payload, { delayMs: 60_000 });
    await producer.add("step.run", { ...newStep(), provider: "openai", model: "gpt-4o" }, { delayMs: 60_000 });
    const depths = await producer.queueDepths(["openai", "anthropic"]);
    expect(Object.keys(depths).sort()).toEqual(["flows", "steps", "steps-anthropic", "steps-openai"]);
    expect(depths.steps?.delayed).toBeGreaterThanOrEqual(1);
    expect(depths["steps-openai"]).toEqual({ waiting: 0, active: 0, delayed: 1, failed: 0 });
    expect(depths["steps-anthropic"]).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expect(depths.steps).toEqual({
      waiting: expect.any(Number),
      active: expect.any(Number),
      delayed: expect.any(Number),
      failed: expect.any(Number),
    });
    await stepsQueue.remove(jobIdFor("step.run", payload));
  });

  it("runs a repeating schedule until it is removed", async () => {
    await producer.upsertSchedule("flow.sweep", {}, { every: 150 });
    await waitUntil(() => flowCalls.filter((call) => call.name === "flow.sweep").length >= 2, 5_000, "two sweeps");
    expect(await producer.removeSchedule("flows", "flow.sweep")).toBe(true);
  });
});

describe("closeGracefully", () => {
  it("lets an active job finish before the worker closes", async () => {
    const payload = newStep();
    let finished = false;
    const worker = createJobWorker({
      queue: "steps",
      connection: connect("worker"),
      prefix: `${prefix}-drain`,
      handlers: {
        "step.run": async () => {
          await sleep(300);
          finished = true;
        },
      },
    });
    const drainProducer = new JobProducer({ connection: connect("producer"), prefix: `${prefix}-drain` });
    try {
      await drainProducer.add("step.run", payload);
      await waitUntil(async () => (await drainProducer.queueDepths()).steps?.active === 1, 5_000, "job to start");
      const result = await closeGracefully(worker, { timeoutMs: 5_000 });
      expect(result).toEqual({ drained: true });
      expect(finished).toBe(true);
    } finally {
      await drainProducer.close();
      await deleteKeys(`${prefix}-drain`);
    }
  });

  it("aborts handlers that outlast the timeout", async () => {
    let aborted = false;
    const worker = createJobWorker({
      queue: "steps",
      connection: connect("worker"),
      prefix: `${prefix}-abort`,
      handlers: {
        "step.run": (_payload, _job, signal) =>
          new Promise((_resolve, reject) => {
            signal?.addEventListener("abort", () => {
              aborted = true;
              reject(new Error("aborted"));
            });
          }),
      },
    });
    const abortProducer = new JobProducer({ connection: connect("producer"), prefix: `${prefix}-abort` });
    try {
      await abortProducer.add("step.run", newStep());
      await waitUntil(async () => (await abortProducer.queueDepths()).steps?.active === 1, 5_000, "job to start");
      const result = await closeGracefully(worker, { timeoutMs: 200, abortGraceMs: 2_000 });
      expect(aborted).toBe(true);
      expect(result.drained).toBe(true);
    } finally {
      await abortProducer.close();
      await deleteKeys(`${prefix}-abort`);
    }
  });
});

describe("provider step queues", () => {
  it("runs a step on its provider's queue only, for the worker that consumes that queue", async () => {
    const poolPrefix = `${prefix}-pools`;
    const ran: { queue: string; provider: string | undefined }[] = [];
    const poolWorker = (provider: string): Worker =>
      createJobWorker({
        queue: "steps",
        queueName: stepQueueName(provider),
        connection: connect("worker"),
        prefix: poolPrefix,
        handlers: {
          "step.run": async (payload) => void ran.push({ queue: stepQueueName(provider), provider: payload.provider }),
        },
      });
    const workers = [poolWorker("sim"), poolWorker("openai")];
    const poolProducer = new JobProducer({ connection: connect("producer"), prefix: poolPrefix });
    try {
      const added = await poolProducer.addBulk([
        { name: "step.run", payload: newStep({ provider: "sim", model: "echo" }) },
        { name: "step.run", payload: newStep({ attempt: 1, provider: "openai", model: "gpt-4o" }) },
        { name: "step.run", payload: newStep({ provider: "anthropic", model: "claude" }) },
      ]);
      expect(added.map((job) => job.queue)).toEqual(["steps-sim", "steps-openai", "steps-anthropic"]);
      await waitUntil(() => ran.length === 2, 5_000, "the sim and openai steps");
      expect(ran.sort((a, b) => a.queue.localeCompare(b.queue))).toEqual([
        { queue: "steps-openai", provider: "openai" },
        { queue: "steps-sim", provider: "sim" },
      ]);
      // No pool serves anthropic: its step waits in its own queue for one.
      await sleep(200);
      expect((await poolProducer.queueDepths(["anthropic"]))["steps-anthropic"]?.waiting).toBe(1);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await poolProducer.close();
      await deleteKeys(poolPrefix);
    }
  });
});
