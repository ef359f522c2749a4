import { randomUUID } from "node:crypto";
import { FlowStreamUpdateSchema, type FlowStreamUpdate } from "@ensemble/core";
import type { Redis } from "ioredis";
import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { followEvents } from "../src/follow-events.js";
import { EarlierEventsUnpublishedError } from "../src/errors/earlier-events-unpublished-error.js";
import { FlowEventsLostError } from "../src/errors/flow-events-lost-error.js";
import { ProgressBus } from "../src/progress-bus.js";
import { deleteKeys, randomPrefix, REDIS_URL, sleep, waitUntil } from "./helpers/redis-test-env.js";
import { EVENT_DATA, progress } from "./helpers/event-data.js";

const prefix = randomPrefix();
const connections: Redis[] = [];
const connect = (role: "worker" | "producer" | "subscriber"): Redis => {
  const redis = createRedisConnection({ url: REDIS_URL, role, name: `${prefix}-${role}` });
  connections.push(redis);
  return redis;
};

let publisher: Redis;
let subscriber: Redis;
let bus: ProgressBus;
const buses: ProgressBus[] = [];

function newBus(options: { subscriber?: Redis | (() => Redis); retentionSeconds?: number } = {}): ProgressBus {
  // A factory-made subscriber belongs to the bus, which quits it on close().
  const ownSubscriber = (): Redis =>
    createRedisConnection({ url: REDIS_URL, role: "subscriber", name: `${prefix}-bus` });
  const created = new ProgressBus({
    publisher,
    prefix,
    subscriber: options.subscriber ?? ownSubscriber,
    ...(options.retentionSeconds ? { retentionSeconds: options.retentionSeconds } : {}),
  });
  buses.push(created);
  return created;
}

beforeAll(() => {
  publisher = connect("worker");
  subscriber = connect("subscriber");
  bus = newBus({ subscriber });
});

afterAll(async () => {
  try {
    await Promise.all(buses.map((each) => each.close()));
    await Promise.all(connections.map(closeRedisConnection));
  } finally {
    await deleteKeys(prefix);
  }
});

async function publishMany(flowId: string, count: number, jitter = false): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await bus.publish(flowId, "step_progress", { stepId: "draft", data: progress(String(i)) });
    if (jitter && i % 7 === 0) await sleep(1);
  }
}

function expectExactlyOnceInOrder(events: FlowStreamUpdate[], count: number): void {
  expect(events.map((event) => event.id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
}

describe("ProgressBus", () => {
  it("readAfterBounded ends a page once its events pass maxBytes, always with at least one event, and pages on to the end", async () => {
    const flowId = randomUUID();
    const big = "x".repeat(100_000);
    for (let i = 0; i < 5; i += 1) await bus.publish(flowId, "step_progress", { stepId: "s", data: progress(big) });
    const first = await bus.readAfterBounded(flowId, 0, 100, 250_000);
    expect(first.map((e) => e.id)).toEqual([1, 2]);
    expect((await bus.readAfterBounded(flowId, 0, 100, 1)).map((e) => e.id)).toEqual([1]);
    expect((await bus.readAfterBounded(flowId, 2, 100, 10_000_000)).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(await bus.readAfterBounded(flowId, 5, 100, 10_000_000)).toEqual([]);
    expect(await bus.readAfterBounded(flowId, 0, 100, 10_000_000)).toEqual(await bus.readAfter(flowId, 0, 100));
  });

  it("numbers a flow's events 1, 2, 3 and stores them", async () => {
    const flowId = randomUUID();
    const published = [
      await bus.publish(flowId, "flow_start", { data: EVENT_DATA.flow_start }),
      await bus.publish(flowId, "step_start", { stepId: "draft", data: EVENT_DATA.step_start }),
      await bus.publish(flowId, "step_complete", { stepId: "draft", data: EVENT_DATA.step_complete }),
    ];
    expect(published.map((event) => event.id)).toEqual([1, 2, 3]);
    for (const event of published) expect(FlowStreamUpdateSchema.parse(event)).toEqual(event);
    expect(published[1]).toMatchObject({ type: "step_start", flowId, stepId: "draft", data: EVENT_DATA.step_start });

    expect(await bus.readAfter(flowId, 0)).toEqual(published);
    expect(await bus.readAfter(flowId, 1)).toEqual(published.slice(1));
    expect(await bus.readAfter(flowId, 3)).toEqual([]);
    expect(await bus.readAfter(flowId, 0, 2)).toEqual(published.slice(0, 2));
    expect(await bus.lastEventId(flowId)).toBe(3);
    expect(await bus.lastEventId(randomUUID())).toBe(0);
  });

  it("keeps ids unique and gapless under concurrent publishers", async () => {
    const flowId = randomUUID();
    const other = newBus();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? bus : other).publish(flowId, "step_progress", { data: progress(String(i)) }),
      ),
    );
    expect(results.map((event) => event.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expectExactlyOnceInOrder(await bus.readAfter(flowId, 0), 40);
  });

  it("delivers live events to every subscriber over one shared SUBSCRIBE", async () => {
    const flowId = randomUUID();
    const channel = `${prefix}:flow:{${flowId}}:live`;
    const first: FlowStreamUpdate[] = [];
    const second: FlowStreamUpdate[] = [];
    const elsewhere: FlowStreamUpdate[] = [];
    const stopFirst = await bus.subscribe(flowId, (event) => first.push(event));
    const stopSecond = await bus.subscribe(flowId, (event) => second.push(event));
    const stopElsewhere = await newBus().subscribe(flowId, (event) => elsewhere.push(event));
    const [, count] = (await publisher.call("PUBSUB", "NUMSUB", channel)) as [string, number];
    expect(count).toBe(2); // one per bus, not one per listener

    await publishMany(flowId, 3);
    await waitUntil(
      () => first.length === 3 && second.length === 3 && elsewhere.length === 3,
      2_000,
      "three events each",
    );
    expectExactlyOnceInOrder(first, 3);
    expect(second).toEqual(first);

    await stopFirst();
    await bus.publish(flowId, "flow_complete", { data: EVENT_DATA.flow_complete });
    await waitUntil(() => second.length === 4, 2_000, "the fourth event");
    expect(first).toHaveLength(3);

    await stopSecond();
    await stopElsewhere();
    const [, after] = (await publisher.call("PUBSUB", "NUMSUB", channel)) as [string, number];
    expect(after).toBe(0);
  });

  it("continues numbering after an archived id when the flow's keys have expired, and never lowers it", async () => {
    const flowId = `flow-${randomUUID()}`;
    await bus.continueNumberingAfter(flowId, 41);
    expect((await bus.publish(flowId, "flow_start", { data: EVENT_DATA.flow_start })).id).toBe(42);
    await bus.continueNumberingAfter(flowId, 10);
    expect((await bus.publish(flowId, "flow_complete", { data: EVENT_DATA.flow_complete })).id).toBe(43);
  });

  it("publishes an outbox event once per key, and refuses numbered events of a flow whose numbering is gone", async () => {
    const flowId = `flow-${randomUUID()}`;
    await expect(bus.publish(flowId, "step_start", { data: EVENT_DATA.step_start, numbered: true })).rejects.toThrow(
      FlowEventsLostError,
    );
    await bus.continueNumberingAfter(flowId, 0);
    const first = await bus.publish(flowId, "flow_start", {
      data: EVENT_DATA.flow_start,
      numbered: true,
      outboxKey: "k1",
    });
    const again = await bus.publish(flowId, "flow_start", {
      data: EVENT_DATA.flow_start,
      numbered: true,
      outboxKey: "k1",
    });
    expect([first.id, again.id]).toEqual([1, 1]);
    expect((await bus.readAfter(flowId, 0)).map((e) => e.type)).toEqual(["flow_start"]);
    // Lost (a wipe): nothing numbered is published until the relay restores the flow.
    await deleteKeys(`${prefix}:flow:{${flowId}}`);
    await expect(
      bus.publish(flowId, "flow_complete", { data: EVENT_DATA.flow_complete, numbered: true, outboxKey: "k2" }),
    ).rejects.toThrow(FlowEventsLostError);
    expect(await bus.unpublished(flowId, ["k1", "k2"])).toEqual({ lost: true, keys: ["k1", "k2"] });
    const relayed = (key: string, type: "flow_start" | "flow_complete") => ({
      key,
      type,
      stepId: null,
      data: EVENT_DATA[type],
      timestamp: new Date().toISOString(),
    });
    expect(await bus.relay(flowId, [relayed("k1", "flow_start"), relayed("k2", "flow_complete")], 1_000_000)).toBe(2);
    expect(await bus.relay(flowId, [relayed("k2", "flow_complete")], 1_000_000)).toBe(0);
    expect(await bus.unpublished(flowId, ["k1", "k2", "k3"])).toEqual({ lost: false, keys: ["k3"] });
    const history = await bus.readAfter(flowId, 0);
    expect(history.map((e) => [e.id, e.type])).toEqual([
      [1_000_001, "flow_start"],
      [1_000_002, "flow_complete"],
    ]);
    history.forEach((e) => expect(FlowStreamUpdateSchema.parse(e)).toEqual(e));
  });

  it("publishes an outbox event only after the earlier ones it names; the relay puts them first, in order", async () => {
    const flowId = `flow-${randomUUID()}`;
    await bus.continueNumberingAfter(flowId, 0);
    await expect(
      bus.publish(flowId, "flow_complete", {
        data: EVENT_DATA.flow_complete,
        numbered: true,
        outboxKey: "b",
        after: ["a"],
      }),
    ).rejects.toThrow(EarlierEventsUnpublishedError);
    expect(await bus.readAfter(flowId, 0)).toEqual([]);
    const event = (key: string, type: "flow_start" | "flow_complete") => ({
      key,
      type,
      stepId: null,
      data: EVENT_DATA[type],
      timestamp: new Date().toISOString(),
    });
    expect(await bus.relay(flowId, [event("a", "flow_start"), event("b", "flow_complete")], null)).toBe(2);
    expect((await bus.readAfter(flowId, 0)).map((e) => [e.id, e.type])).toEqual([
      [1, "flow_start"],
      [2, "flow_complete"],
    ]);
    // Late publishes of either are no-ops.
    await bus.publish(flowId, "flow_complete", {
      data: EVENT_DATA.flow_complete,
      numbered: true,
      outboxKey: "b",
      after: ["a"],
    });
    expect(await bus.readAfter(flowId, 0)).toHaveLength(2);
    // A lost flow is not restored without a floor.
    await deleteKeys(`${prefix}:flow:{${flowId}}`);
    await expect(bus.relay(flowId, [event("c", "flow_start")], null)).rejects.toThrow(FlowEventsLostError);
  });

  it("sets a TTL on a flow's keys and lets callers change it", async () => {
    const flowId = randomUUID();
    const shortLived = newBus({ retentionSeconds: 120 });
    await shortLived.publish(flowId, "flow_start", { data: EVENT_DATA.flow_start });
    const seqKey = `${prefix}:flow:{${flowId}}:seq`;
    const eventsKey = `${prefix}:flow:{${flowId}}:events`;
    for (const key of [seqKey, eventsKey]) {
      const ttl = await publisher.ttl(key);
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    }
    await shortLived.expire(flowId, 5);
    expect(await publisher.ttl(seqKey)).toBeLessThanOrEqual(5);
    expect(await publisher.ttl(eventsKey)).toBeLessThanOrEqual(5);
    expect(await publisher.ttl(`${prefix}:flow:{${randomUUID()}}:seq`)).toBe(-2);
  });
});

describe("followEvents", () => {
  it("replays stored events, then continues live", async () => {
    const flowId = randomUUID();
    await publishMany(flowId, 5);
    const seen: FlowStreamUpdate[] = [];
    const stop = await followEvents(bus, flowId, 2, (event) => seen.push(event));
    expect(seen.map((event) => event.id)).toEqual([3, 4, 5]); // replay is done when it resolves
    await publishMany(flowId, 2);
    await waitUntil(() => seen.length === 5, 2_000, "live events");
    expect(seen.map((event) => event.id)).toEqual([3, 4, 5, 6, 7]);
    await stop();
  });

  it("delivers every event exactly once across a client reconnect while publishing", async () => {
    const flowId = randomUUID();
    const total = 300;
    const publishing = publishMany(flowId, total, true);

    const seen: FlowStreamUpdate[] = [];
    let reachedSixty!: () => void;
    const sixtySeen = new Promise<void>((resolve) => {
      reachedSixty = resolve;
    });
    // The first connection drops after 60 events, mid-stream (later events never reach
    // this client); it comes back with Last-Event-ID = the last id it saw, on the bus of
    // another API instance.
    const stopFirst = await followEvents(bus, flowId, 0, (event) => {
      if (seen.length >= 60) return;
      seen.push(event);
      if (seen.length === 60) reachedSixty();
    });
    await sixtySeen;
    await stopFirst();
    await sleep(20); // events keep flowing while the client is away
    const lastSeen = seen[seen.length - 1]?.id ?? 0;
    const stopSecond = await followEvents(newBus(), flowId, lastSeen, (event) => seen.push(event));

    await publishing;
    await waitUntil(() => seen.length >= total, 5_000, "all events");
    await sleep(50);
    expectExactlyOnceInOrder(seen, total);
    await stopSecond();
  });

  it("fills the gap when its subscriber connection drops mid-stream", async () => {
    const flowId = randomUUID();
    const total = 300;
    const dropping = connect("subscriber");
    const flakyBus = newBus({ subscriber: dropping });
    const seen: FlowStreamUpdate[] = [];
    const stop = await followEvents(flakyBus, flowId, 0, (event) => seen.push(event));

    const publishing = publishMany(flowId, total, true);
    await waitUntil(() => seen.length >= 50, 5_000, "the first events");
    dropping.disconnect(true); // reconnects and re-subscribes; pub/sub loses what was sent meanwhile
    await publishing;
    await waitUntil(() => seen.length >= total, 5_000, "all events");
    await sleep(50);
    expectExactlyOnceInOrder(seen, total);
    await stop();
  });

  it("catches up after a reconnect even when no later event arrives", async () => {
    const flowId = randomUUID();
    const dropping = connect("subscriber");
    const flakyBus = newBus({ subscriber: dropping });
    const seen: FlowStreamUpdate[] = [];
    const stop = await followEvents(flakyBus, flowId, 0, (event) => seen.push(event));
    await publishMany(flowId, 2);
    await waitUntil(() => seen.length === 2, 2_000, "two events");

    dropping.disconnect(true);
    await publishMany(flowId, 3); // published while the subscriber is away: only the re-read finds them
    await waitUntil(() => seen.length === 5, 5_000, "the missed events");
    expectExactlyOnceInOrder(seen, 5);
    await stop();
  });
});
