import { RateLimiter } from "./rate-limiter.js";
import { openTestRedis } from "./redis-test-connection.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("RateLimiter (real Redis)", () => {
  const testRedis = openTestRedis();
  afterAll(() => testRedis.close());

  it("allows exactly `limit` of many concurrent requests, even from two limiter instances", async () => {
    // Two instances on one Redis stand for two API processes.
    const a = new RateLimiter(testRedis.redis, testRedis.prefix, 40, 60_000);
    const b = new RateLimiter(testRedis.redis, testRedis.prefix, 40, 60_000);
    const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).hit("key-concurrent")));
    const allowed = decisions.filter((d) => d.allowed);
    expect(allowed).toHaveLength(40);
    expect(
      allowed
        .map((d) => d.remaining)
        .sort((x, y) => y - x)
        .slice(0, 3),
    ).toEqual([39, 38, 37]);
    for (const d of decisions.filter((d) => !d.allowed)) {
      // The next request is allowed one pacing interval (60 s / 40) after the burst, at most.
      expect(d.retryAfterMs).toBeGreaterThan(0);
      expect(d.retryAfterMs).toBeLessThanOrEqual(1_500);
      expect(d.resetMs).toBeGreaterThan(55_000);
      expect(d.resetMs).toBeLessThanOrEqual(60_000);
      expect(d.remaining).toBe(0);
    }
  });

  it("counts each key on its own", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 2, 60_000);
    expect((await limiter.hit("k1")).allowed).toBe(true);
    expect((await limiter.hit("k1")).allowed).toBe(true);
    expect((await limiter.hit("k1")).allowed).toBe(false);
    expect(await limiter.hit("k2")).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("after a burst of `limit`, lets a key at its limit through one request per window/limit", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 5, 1_000);
    for (let i = 0; i < 5; i += 1) expect((await limiter.hit("k-pace")).allowed).toBe(true);
    const refused = await limiter.hit("k-pace");
    expect(refused).toMatchObject({ allowed: false, remaining: 0, intervalMs: 200 });
    expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
    await sleep(refused.retryAfterMs + 20);
    expect(await limiter.hit("k-pace")).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.hit("k-pace")).allowed).toBe(false); // one, not a new burst
  });

  it("gives the whole allowance back once a window has passed without requests", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 3, 300);
    for (let i = 0; i < 3; i += 1) await limiter.hit("k-window");
    const refused = await limiter.hit("k-window");
    expect(refused.allowed).toBe(false);
    await sleep(refused.resetMs + 50);
    expect(await limiter.hit("k-window")).toMatchObject({ allowed: true, remaining: 2 });
  });

  it("never leaves a key's state without an expiry", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 5, 10_000);
    await limiter.hit("k-ttl");
    const ttl = await testRedis.redis.pttl(`${testRedis.prefix}:ratelimit:k-ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });
});
