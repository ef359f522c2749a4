import { IdempotencyStore } from "./idempotency-store.js";
import { openTestRedis } from "./redis-test-connection.js";

describe("IdempotencyStore (real Redis)", () => {
  const testRedis = openTestRedis();
  const store = new IdempotencyStore(testRedis.redis, testRedis.prefix, 1);
  afterAll(() => testRedis.close());

  it("lets exactly one of many concurrent claims win", async () => {
    const key = store.keyFor("user-1", "flow.execute", "race");
    const results = await Promise.all(Array.from({ length: 25 }, () => store.claim(key, "fp")));
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    expect(results.filter((r) => !r.claimed).map((r) => !r.claimed && r.record)).toEqual(
      Array.from({ length: 24 }, () => ({ state: "in_flight", fingerprint: "fp" })),
    );
  });

  it("keeps a completed answer for the TTL, then forgets it", async () => {
    const key = store.keyFor("user-1", "flow.execute", "ttl");
    const first = await store.claim(key, "fp");
    if (!first.claimed) throw new Error("expected the claim");
    expect(await store.complete(first.claim, 202, '{"run":1}')).toBe(true);
    expect(await store.claim(key, "other")).toEqual({
      claimed: false,
      record: { state: "done", fingerprint: "fp", status: 202, body: '{"run":1}' },
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await store.claim(key, "fp")).claimed).toBe(true);
  });

  it("frees a released key, and fences a claim that another request took over", async () => {
    const key = store.keyFor("user-1", "flow.execute", "fence");
    const first = await store.claim(key, "fp");
    if (!first.claimed) throw new Error("expected the claim");
    await store.release(first.claim);
    const second = await store.claim(key, "fp");
    if (!second.claimed) throw new Error("expected the key to be free");
    // The first request's late writes do nothing to the second's claim.
    expect(await store.complete(first.claim, 500, "{}")).toBe(false);
    await store.release(first.claim);
    expect(await store.claim(key, "fp")).toEqual({ claimed: false, record: { state: "in_flight", fingerprint: "fp" } });
  });

  it("scopes keys by user and route, and never puts the client's key in Redis", () => {
    const keys = new Set([
      store.keyFor("u1", "flow.execute", "k"),
      store.keyFor("u2", "flow.execute", "k"),
      store.keyFor("u1", "step.execute", "k"),
    ]);
    expect(keys.size).toBe(3);
    for (const key of keys) expect(key).toMatch(new RegExp(`^${testRedis.prefix}:idempotency:[0-9a-f]{64}$`));
  });
});
