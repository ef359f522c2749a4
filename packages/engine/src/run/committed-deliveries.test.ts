import { RedisUnavailableError } from "@ensemble/queue";
import pino from "pino";
import { CommittedDeliveries, type Delivery } from "./committed-deliveries.js";

const logger = pino({ level: "silent" });

/** A Redis stand-in: records what was sent, and refuses everything while `down`. */
class FakeRedis {
  down = false;
  refuseNext: Error | null = null;
  readonly sent: string[] = [];
  delivery(what: string): Delivery {
    return {
      what,
      send: async () => {
        await Promise.resolve();
        if (this.refuseNext) {
          const err = this.refuseNext;
          this.refuseNext = null;
          throw err;
        }
        if (this.down) throw new RedisUnavailableError("Redis unavailable during publish event: connect ECONNREFUSED");
        this.sent.push(what);
      },
    };
  }
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i += 1) await new Promise((r) => setTimeout(r, 10));
};

describe("CommittedDeliveries", () => {
  it("sends at once while Redis is up", async () => {
    const redis = new FakeRedis();
    const deliveries = new CommittedDeliveries({ logger, retryEveryMs: 10 });
    await deliveries.deliver([redis.delivery("a"), redis.delivery("b")]);
    expect(redis.sent).toEqual(["a", "b"]);
    expect(deliveries.waiting).toBe(0);
  });

  it("keeps what meets an unavailable Redis and sends it, in order, once Redis is back; later ones wait behind", async () => {
    const redis = new FakeRedis();
    const deliveries = new CommittedDeliveries({ logger, retryEveryMs: 10 });
    redis.down = true;
    await deliveries.deliver([redis.delivery("a"), redis.delivery("b")]);
    expect(deliveries.waiting).toBe(2);
    redis.down = false;
    // Redis is up again, but "c" must not overtake "a" and "b".
    await deliveries.deliver([redis.delivery("c")]);
    await until(() => deliveries.waiting === 0);
    expect(redis.sent).toEqual(["a", "b", "c"]);
  });

  it("drops (and does not retry) a delivery Redis refuses for another reason", async () => {
    const redis = new FakeRedis();
    const deliveries = new CommittedDeliveries({ logger, retryEveryMs: 10 });
    redis.refuseNext = new Error("ERR Error running script");
    await deliveries.deliver([redis.delivery("bad"), redis.delivery("good")]);
    expect(redis.sent).toEqual(["good"]);
    expect(deliveries.waiting).toBe(0);
  });

  it("keeps at most maxPending, dropping the oldest", async () => {
    const redis = new FakeRedis();
    const deliveries = new CommittedDeliveries({ logger, retryEveryMs: 10, maxPending: 2 });
    redis.down = true;
    await deliveries.deliver(["a", "b", "c"].map((w) => redis.delivery(w)));
    expect(deliveries.waiting).toBe(2);
    redis.down = false;
    await until(() => deliveries.waiting === 0);
    expect(redis.sent).toEqual(["b", "c"]);
  });

  it("flush waits for Redis up to its timeout and reports what is left", async () => {
    const redis = new FakeRedis();
    const deliveries = new CommittedDeliveries({ logger, retryEveryMs: 10 });
    redis.down = true;
    await deliveries.deliver([redis.delivery("a")]);
    expect(await deliveries.flush(50)).toBe(1);
    redis.down = false;
    expect(await deliveries.flush(1_000)).toBe(0);
    expect(redis.sent).toEqual(["a"]);
  });
});
