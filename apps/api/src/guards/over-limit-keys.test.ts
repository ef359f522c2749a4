import { MAX_HELD_PER_KEY, MAX_HOLD_MS, OverLimitKeys } from "./over-limit-keys.js";

describe("OverLimitKeys", () => {
  const refused = { allowed: false, limit: 10, remaining: 0, resetMs: 9_000, retryAfterMs: 4_000, intervalMs: 100 };

  it("refuses a remembered key until it may try again, with the times left, then forgets it", () => {
    const keys = new OverLimitKeys();
    keys.remember("hash-a", refused, 1_000);
    expect(keys.refusal("hash-a", 1_000)).toEqual(refused);
    expect(keys.refusal("hash-a", 3_500)).toEqual({ ...refused, resetMs: 6_500, retryAfterMs: 1_500 });
    expect(keys.refusal("hash-b", 3_500)).toBeNull();
    expect(keys.refusal("hash-a", 5_000)).toBeNull();
    expect(keys.refusal("hash-a", 1_000)).toBeNull(); // forgotten, not merely expired
  });

  it("holds a bounded number of keys, forgetting the oldest first", () => {
    const keys = new OverLimitKeys();
    for (let i = 0; i <= 10_000; i += 1) keys.remember(`hash-${i}`, refused, 0);
    expect(keys.refusal("hash-0", 1)).toBeNull();
    expect(keys.refusal("hash-1", 1)).not.toBeNull();
    expect(keys.refusal("hash-10000", 1)).not.toBeNull();
  });

  it("holds a key's refusals until it may try again, each one pacing interval after the one before", () => {
    const keys = new OverLimitKeys();
    const soon = { ...refused, retryAfterMs: 30 };
    expect([keys.hold("hash-a", soon), keys.hold("hash-a", soon), keys.hold("hash-a", soon)]).toEqual([30, 130, 230]);
    keys.release("hash-a");
    keys.release("hash-a");
    keys.release("hash-a");
    expect(keys.hold("hash-a", soon)).toBe(30); // nothing held: the next one waits only its own time
  });

  it("holds at most MAX_HOLD_MS, and a bounded number per key at a time", () => {
    const keys = new OverLimitKeys();
    for (let i = 0; i < MAX_HELD_PER_KEY; i += 1) expect(keys.hold("hash-a", refused)).toBe(MAX_HOLD_MS);
    expect(keys.hold("hash-a", refused)).toBe(0); // answered at once past the bound
    expect(keys.hold("hash-b", refused)).toBe(MAX_HOLD_MS); // other keys are held on their own
    keys.release("hash-a");
    expect(keys.hold("hash-a", refused)).toBe(MAX_HOLD_MS);
  });
});
