import { batchesToSubmit } from "./batch-trigger.js";

describe("batchesToSubmit", () => {
  const trigger = { maxSize: 100, maxAgeMs: 60_000 };

  it("waits while the steps are fewer than a batch and young", () => {
    expect(batchesToSubmit({ count: 0, oldestAgeMs: 120_000 }, trigger)).toBe(0);
    expect(batchesToSubmit({ count: 99, oldestAgeMs: 59_999 }, trigger)).toBe(0);
  });

  it("submits every full batch at once (the size trigger)", () => {
    expect(batchesToSubmit({ count: 100, oldestAgeMs: 0 }, trigger)).toBe(1);
    expect(batchesToSubmit({ count: 250, oldestAgeMs: 10 }, trigger)).toBe(2);
  });

  it("submits the rest too once the oldest step is old enough (the age trigger)", () => {
    expect(batchesToSubmit({ count: 1, oldestAgeMs: 60_000 }, trigger)).toBe(1);
    expect(batchesToSubmit({ count: 250, oldestAgeMs: 60_000 }, trigger)).toBe(3);
  });
});
