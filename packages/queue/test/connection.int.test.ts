import { closeRedisConnection, createRedisConnection } from "../src/connection.js";
import { RedisUnavailableError } from "../src/errors/redis-unavailable-error.js";
import { JobProducer } from "../src/job-producer.js";
import { isRedisUnavailable, waitForRedisReady } from "../src/redis-availability.js";
import { deleteKeys, randomPrefix, REDIS_URL } from "./helpers/redis-test-env.js";

const CLOSED_PORT_URL = "redis://127.0.0.1:1";
const prefix = randomPrefix();

afterAll(async () => {
  await deleteKeys(prefix);
});

describe("createRedisConnection", () => {
  it("configures each role", async () => {
    const worker = createRedisConnection({ url: REDIS_URL, role: "worker", name: "ensemble-test-worker" });
    const producer = createRedisConnection({ url: REDIS_URL, role: "producer" });
    try {
      expect(worker.options.maxRetriesPerRequest).toBeNull();
      expect(producer.options).toMatchObject({
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 2000,
      });
      expect(await worker.client("GETNAME")).toBe("ensemble-test-worker");
    } finally {
      await Promise.all([closeRedisConnection(worker), closeRedisConnection(producer)]);
    }
  });

  it("fails fast when a producer cannot reach Redis", async () => {
    const redis = createRedisConnection({ url: CLOSED_PORT_URL, role: "producer" });
    redis.on("error", () => undefined); // connection errors are expected here
    const producer = new JobProducer({ connection: redis, prefix });
    try {
      const started = Date.now();
      const pinged = await redis.ping().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isRedisUnavailable(pinged)).toBe(true);

      const added = await producer.add("flow.start", { flowId: "f", run: 1 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(added).toBeInstanceOf(RedisUnavailableError);
      expect(isRedisUnavailable(added)).toBe(true);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await producer.close();
      await closeRedisConnection(redis);
    }
  });

  it("lets a producer add right after creating its connection", async () => {
    const redis = createRedisConnection({ url: REDIS_URL, role: "producer" });
    const producer = new JobProducer({ connection: redis, prefix });
    try {
      // The connection is not ready yet; without a wait, the offline-queue-less client would reject.
      expect(redis.status).not.toBe("ready");
      await expect(producer.add("flow.start", { flowId: "f", run: 1 })).resolves.toMatchObject({ id: "start_f_1" });
    } finally {
      await producer.close();
      await closeRedisConnection(redis);
    }
  });
});

describe("isRedisUnavailable", () => {
  it("tells unavailability from other failures", async () => {
    const redis = createRedisConnection({ url: REDIS_URL, role: "producer" });
    try {
      await waitForRedisReady(redis, 2_000);
      await redis.set(`${prefix}:string`, "x");
      const wrongType = await redis.lpush(`${prefix}:string`, "y").then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(wrongType).toBeInstanceOf(Error);
      expect(isRedisUnavailable(wrongType)).toBe(false);
    } finally {
      await closeRedisConnection(redis);
    }
    expect(isRedisUnavailable(new Error("boom"))).toBe(false);
    expect(isRedisUnavailable(undefined)).toBe(false);
    expect(
      isRedisUnavailable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })),
    ).toBe(true);
    expect(isRedisUnavailable(new Error("wrapped", { cause: new RedisUnavailableError("down") }))).toBe(true);
  });
});
