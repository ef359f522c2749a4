import { randomUUID } from "node:crypto";
import type { RunPriority } from "@ensemble/core";
import type { Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { closeGracefully } from "../src/close-gracefully.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { fairPriority } from "../src/fair-share.js";
import type { JobPayload } from "../src/job-catalog.js";
import { JobProducer } from "../src/job-producer.js";
import { createJobWorker } from "../src/job-worker.js";
import { stepQueueName } from "../src/queue-names.js";
import { deleteKeys, randomPrefix, REDIS_URL, waitUntil } from "./helpers/redis-test-env.js";

// The order real BullMQ runs ranked step jobs in: one worker, one job at a time, on a provider queue.

const prefix = randomPrefix();
const connections: Redis[] = [];
const connect = (role: "worker" | "producer"): Redis => {
  const redis = createRedisConnection({ url: REDIS_URL, role, name: `${prefix}-${role}` });
  connections.push(redis);
  return redis;
};

let provider = "";
let producer: JobProducer;
let fifo: JobProducer;
let worker: Worker | undefined;

const step = (userId: string, n: number, priority: RunPriority = "normal"): JobPayload<"step.run"> => ({
  flowId: `${userId}-${n}-${randomUUID().slice(0, 6)}`,
  run: 1,
  stepId: "s",
  iteration: 0,
  attempt: 0,
  provider,
  model: "echo",
  dispatch: { userId, priority },
});

/** Starts a one-at-a-time worker on the provider's queue; returns the users in the order their jobs ran. */
function runInOrder(): string[] {
  const order: string[] = [];
  worker = createJobWorker({
    queue: "steps",
    queueName: stepQueueName(provider),
    connection: connect("worker"),
    prefix,
    concurrency: 1,
    handlers: {
      "step.run": async (payload, job: Job) => {
        order.push(payload.dispatch?.userId ?? "?");
        if (payload.dispatch && job.id)
          await producer.fairShare.start(job.queueName, job.id, payload.dispatch, null, 30_000);
        return "ok";
      },
    },
  });
  return order;
}

beforeAll(() => {
  producer = new JobProducer({ connection: connect("producer"), prefix });
  fifo = new JobProducer({ connection: connect("producer"), prefix, fairShare: false });
});
beforeEach(() => {
  provider = `p${randomUUID().slice(0, 8)}`;
});
afterEach(async () => {
  if (worker) await closeGracefully(worker);
  worker = undefined;
});
afterAll(async () => {
  await producer.close();
  await fifo.close();
  await Promise.all(connections.map(closeRedisConnection));
  await deleteKeys(prefix);
});

describe("FairShare on BullMQ (real Redis)", () => {
  it("runs a newcomer's first step right after a flooding user's first, not after their backlog", async () => {
    await producer.addBulk(
      Array.from({ length: 200 }, (_, i) => ({ name: "step.run" as const, payload: step("a", i) })),
    );
    await producer.add("step.run", step("b", 0));
    const order = runInOrder();
    await waitUntil(() => order.length === 201, 20_000, "every job ran");
    expect(order.indexOf("b")).toBeLessThanOrEqual(1);
  });

  it("without fair sharing (FAIR_SHARE=false) the same newcomer waits behind the whole backlog", async () => {
    await fifo.addBulk(Array.from({ length: 50 }, (_, i) => ({ name: "step.run" as const, payload: step("a", i) })));
    await fifo.add("step.run", step("b", 0));
    const order = runInOrder();
    await waitUntil(() => order.length === 51, 20_000, "every job ran");
    expect(order.indexOf("b")).toBe(50);
  });

  it("lets users take turns, and runs every high step before any normal and every normal before any low", async () => {
    for (let i = 0; i < 3; i += 1) await producer.add("step.run", step("a", i));
    for (let i = 0; i < 3; i += 1) await producer.add("step.run", step("b", i));
    await producer.add("step.run", step("c", 0, "low"));
    await producer.add("step.run", step("d", 0, "high"));
    const order = runInOrder();
    await waitUntil(() => order.length === 8, 10_000, "every job ran");
    expect(order[0]).toBe("d");
    expect(order.slice(1, 7).join("")).toMatch(/^(ab|ba)(ab|ba)(ab|ba)$/);
    expect(order[7]).toBe("c");
  });

  it("ages a waiting low step into normal, at rank 1 there", async () => {
    const low = await producer.add("step.run", step("old", 0, "low"));
    await new Promise((r) => setTimeout(r, 400));
    for (let i = 0; i < 5; i += 1) await producer.add("step.run", step("busy", i));
    const queue = producer.getQueues([provider]).find((q) => q.name === stepQueueName(provider));
    expect((await queue?.getJob(low.id))?.priority).toBe(fairPriority("low", 1));

    // Only the low step has waited 300 ms; the normal ones are younger.
    expect(await producer.fairShare.age([stepQueueName(provider)], 300)).toBe(1);
    expect((await queue?.getJob(low.id))?.priority).toBe(fairPriority("normal", 1));
    const order = runInOrder();
    await waitUntil(() => order.length === 6, 10_000, "every job ran");
    expect(order.indexOf("old")).toBeLessThanOrEqual(1);
  });

  it("ages a flooder's oldest step only: their aged backlog does not go ahead of a newcomer's first step", async () => {
    await producer.addBulk(
      Array.from({ length: 30 }, (_, i) => ({ name: "step.run" as const, payload: step("a", i) })),
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(await producer.fairShare.age([stepQueueName(provider)], 300)).toBe(1);
    // A period later the flooder's oldest step is that same one, already high: nothing else moves.
    await new Promise((r) => setTimeout(r, 400));
    expect(await producer.fairShare.age([stepQueueName(provider)], 300)).toBe(0);
    await producer.add("step.run", step("b", 0));
    const order = runInOrder();
    await waitUntil(() => order.length === 31, 20_000, "every job ran");
    expect(order.indexOf("b")).toBeLessThanOrEqual(2);
  });

  it("admits at most the user's cap of steps at once; a released or lapsed slot admits the next", async () => {
    const dispatch = { userId: `capped-${randomUUID()}`, priority: "normal" as const };
    const queue = stepQueueName(provider);
    const starts = await Promise.all(
      ["j1", "j2", "j3"].map((id) => producer.fairShare.start(queue, id, dispatch, 2, 300)),
    );
    expect(starts.map((s) => s.admitted)).toEqual([true, true, false]);
    // The same job starting again (a redelivery) keeps its slot.
    expect((await producer.fairShare.start(queue, "j1", dispatch, 2, 300)).admitted).toBe(true);
    const first = starts[0];
    if (!first?.admitted) throw new Error("unreachable");
    await first.slot.release();
    expect((await producer.fairShare.start(queue, "j3", dispatch, 2, 300)).admitted).toBe(true);
    // Nobody renews: every slot lapses with its ttl (its worker died).
    await new Promise((r) => setTimeout(r, 350));
    expect((await producer.fairShare.start(queue, "j4", dispatch, 1, 300)).admitted).toBe(true);
  });
});
