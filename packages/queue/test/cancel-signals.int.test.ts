import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { CancelSignals } from "../src/cancel-signals.js";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import type { CancelReason } from "../src/job-catalog.js";
import { deleteKeys, randomPrefix, REDIS_URL, waitUntil } from "./helpers/redis-test-env.js";

const prefix = randomPrefix();
let publisher: Redis;
let subscriber: Redis;
let signals: CancelSignals;

beforeAll(() => {
  publisher = createRedisConnection({ url: REDIS_URL, role: "producer", name: `${prefix}-api` });
  subscriber = createRedisConnection({ url: REDIS_URL, role: "subscriber", name: `${prefix}-worker` });
  signals = new CancelSignals({ publisher, subscriber, prefix });
});

afterAll(async () => {
  try {
    await signals.close();
    await Promise.all([closeRedisConnection(publisher), closeRedisConnection(subscriber)]);
  } finally {
    await deleteKeys(prefix);
  }
});

describe("CancelSignals", () => {
  it("delivers a published cancel to every listener", async () => {
    const received: [string, CancelReason][] = [];
    const alsoReceived: string[] = [];
    const stop = await signals.listen((flowId, reason) => received.push([flowId, reason]));
    const stopOther = await signals.listen((flowId) => alsoReceived.push(flowId));

    const flowId = randomUUID();
    expect(await signals.publish(flowId, "timed_out")).toBe(1); // one connection, shared by both listeners
    await waitUntil(() => received.length === 1 && alsoReceived.length === 1, 2_000, "the cancel");
    expect(received).toEqual([[flowId, "timed_out"]]);

    await stop();
    await signals.publish(randomUUID(), "cancelled");
    await waitUntil(() => alsoReceived.length === 2, 2_000, "the second cancel");
    expect(received).toHaveLength(1);
    await stopOther();
    expect(await signals.publish(flowId, "cancelled")).toBe(0);
  });

  it("ignores malformed messages on the channel", async () => {
    const errors: unknown[] = [];
    const received: string[] = [];
    const tolerant = new CancelSignals({
      publisher,
      subscriber: () => createRedisConnection({ url: REDIS_URL, role: "subscriber" }),
      prefix,
      onError: (err) => errors.push(err),
    });
    const stop = await tolerant.listen((flowId) => received.push(flowId));
    await publisher.publish(tolerant.channel, "not json");
    await publisher.publish(tolerant.channel, JSON.stringify({ flowId: "f", reason: "bored" }));
    await tolerant.publish("f2", "cancelled");
    await waitUntil(() => received.length === 1, 2_000, "the valid cancel");
    expect(received).toEqual(["f2"]);
    expect(errors).toHaveLength(2);
    await stop();
    await tolerant.close();
  });
});
