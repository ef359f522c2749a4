import { RateLimiter } from "./rate-limiter.js";
import { openTestRedis } from "./redis-test-connection.js";

describe("RateLimiter (real Redis)", () => {
  const testRedis = openTestRedis();
  afterAll(() => testRedis.close());

  it("allows exactly `limit` of many concurrent requests, even from two limiter instances", async () => {
    // Two instances on one Redis stand for two API processes.
    const a = new RateLimiter(testRedis.redis, testRedis.prefix, 40, 60_000);
    const b = new RateLimiter(testRedis.redis, testRedis.prefix, 40, 60_000);
    const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).hit("key-concurrent")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(40);
    expect(
      decisions
        .map((d) => d.remaining)
        .sort((x, y) => y - x)
        .slice(0, 3),
    ).toEqual([39, 38, 37]);
    for (const d of decisions) {
      expect(d.resetMs).toBeGreaterThan(50_000);
      expect(d.resetMs).toBeLessThanOrEqual(60_000);
    }
  });

  it("counts each key on its own", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 2, 60_000);
    expect((await limiter.hit("k1")).allowed).toBe(true);
    expect((await limiter.hit("k1")).allowed).toBe(true);
    expect((await limiter.hit("k1")).allowed).toBe(false);
    expect(await limiter.hit("k2")).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("starts a new window once the old one has passed", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 1, 300);
    expect((await limiter.hit("k-window")).allowed).toBe(true);
    const refused = await limiter.hit("k-window");
    expect(refused.allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, refused.resetMs + 50));
    expect(await limiter.hit("k-window")).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("never leaves a counter without an expiry", async () => {
    const limiter = new RateLimiter(testRedis.redis, testRedis.prefix, 5, 10_000);
    await limiter.hit("k-ttl");
    const ttl = await testRedis.redis.pttl(`${testRedis.prefix}:ratelimit:k-ttl`);
    expect(ttl).toBeGreaterThan(0);
  });
});
