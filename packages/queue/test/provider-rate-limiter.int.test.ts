import { Redis } from "ioredis";
import { ProviderRateLimiter, type RateLimits } from "../src/provider-rate-limiter.js";
import { deleteKeys, randomPrefix, REDIS_URL, sleep } from "./helpers/redis-test-env.js";

describe("ProviderRateLimiter (real Redis)", () => {
  const prefix = randomPrefix();
  const redis = new Redis(REDIS_URL);
  const limiter = (limits: RateLimits, windowMs = 1_200, slotTtlMs = 30_000) =>
    new ProviderRateLimiter({ redis, limits, prefix: `${prefix}:${Math.random()}`, windowMs, slotTtlMs });

  afterAll(async () => {
    await deleteKeys(prefix);
    await redis.quit();
  });

  it("admits up to requestsPerMinute per window, then says how long to wait", async () => {
    const rl = limiter({ openai: { requestsPerMinute: 3 } });
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await rl.admit("openai", "gpt-4o", `h${i}`));
    expect(results.map((r) => r.admitted)).toEqual([true, true, true, false]);
    const denied = results[3];
    if (denied?.admitted !== false) throw new Error("expected a denial");
    expect(denied.limit).toBe("openai requestsPerMinute");
    expect(denied.retryInMs).toBeGreaterThan(0);
    expect(denied.retryInMs).toBeLessThan(1_200 + 300);
    await sleep(denied.retryInMs);
    expect((await rl.admit("openai", "gpt-4o", "h4")).admitted).toBe(true);
  });

  it("limits one model without limiting the provider's other models", async () => {
    const rl = limiter({ "anthropic:claude-opus-4-1": { requestsPerMinute: 1 } });
    expect((await rl.admit("anthropic", "claude-opus-4-1", "a")).admitted).toBe(true);
    expect((await rl.admit("anthropic", "claude-opus-4-1", "b")).admitted).toBe(false);
    expect((await rl.admit("anthropic", "claude-haiku-4-5", "c")).admitted).toBe(true);
    expect(rl.covers("anthropic", "claude-haiku-4-5")).toBe(false);
  });

  it("holds maxConcurrent across holders until a slot is released", async () => {
    const rl = limiter({ google: { maxConcurrent: 2 } });
    const a = await rl.admit("google", "gemini-2.5-flash", "a");
    const b = await rl.admit("google", "gemini-2.5-flash", "b");
    const c = await rl.admit("google", "gemini-2.5-flash", "c");
    expect([a.admitted, b.admitted, c.admitted]).toEqual([true, true, false]);
    if (!a.admitted) throw new Error("unreachable");
    await a.slot.release(0);
    expect((await rl.admit("google", "gemini-2.5-flash", "c")).admitted).toBe(true);
  });

  it("frees the slot of a holder that stopped renewing (its worker died)", async () => {
    const rl = limiter({ google: { maxConcurrent: 1 } }, 1_200, 300);
    expect((await rl.admit("google", "m", "dead")).admitted).toBe(true);
    expect((await rl.admit("google", "m", "next")).admitted).toBe(false);
    await sleep(350);
    expect((await rl.admit("google", "m", "next")).admitted).toBe(true);
  });

  it("counts tokens reported on release against tokensPerMinute", async () => {
    const rl = limiter({ openai: { tokensPerMinute: 1_000 } });
    const first = await rl.admit("openai", "gpt-4o", "t1");
    if (!first.admitted) throw new Error("expected admission");
    await first.slot.release(1_200);
    const second = await rl.admit("openai", "gpt-4o", "t2");
    expect(second).toMatchObject({ admitted: false, limit: "openai tokensPerMinute" });
  });

  it("never admits more than the limit in any window, with many callers at once", async () => {
    const rl = limiter({ sim: { requestsPerMinute: 5 } }, 600);
    const admittedAt: number[] = [];
    const deadline = Date.now() + 1_500;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; Date.now() < deadline; i += 1) {
          const r = await rl.admit("sim", "echo", `w${w}-${i}`);
          if (r.admitted) admittedAt.push(Date.now());
          else await sleep(Math.min(r.retryInMs, 50));
        }
      }),
    );
    admittedAt.sort((x, y) => x - y);
    for (const start of admittedAt)
      expect(admittedAt.filter((t) => t >= start && t < start + 600).length).toBeLessThanOrEqual(5);
    expect(admittedAt.length).toBeGreaterThanOrEqual(10);
  });
});
