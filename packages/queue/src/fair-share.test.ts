import { fairPriority, PRIORITY_CLASS_WIDTH, priorityClassOf, promotedClass } from "./fair-share.js";

/** BullMQ's largest priority (2^21 - 1): an add above it throws. */
const BULLMQ_PRIORITY_LIMIT = 2 ** 21 - 1;

describe("fair priorities", () => {
  it("puts each user's k-th waiting step beside the other users' k-th, inside its class's band", () => {
    expect(fairPriority("high", 1)).toBe(1);
    expect(fairPriority("normal", 1)).toBe(PRIORITY_CLASS_WIDTH + 1);
    expect(fairPriority("low", 3)).toBe(2 * PRIORITY_CLASS_WIDTH + 3);
    // A flooding user's 5,000th normal step sorts after a newcomer's first.
    expect(fairPriority("normal", 5_000)).toBeGreaterThan(fairPriority("normal", 1));
  });

  it("keeps every class's band apart: a normal step's last rank still goes before a low step's first", () => {
    expect(fairPriority("high", PRIORITY_CLASS_WIDTH)).toBeLessThan(fairPriority("normal", 1));
    expect(fairPriority("normal", PRIORITY_CLASS_WIDTH)).toBeLessThan(fairPriority("low", 1));
  });

  it("stays within BullMQ's range: ranks past a band share its end, and a rank below 1 counts as 1", () => {
    expect(fairPriority("low", 10_000_000)).toBe(3 * PRIORITY_CLASS_WIDTH);
    expect(fairPriority("low", 10_000_000)).toBeLessThanOrEqual(BULLMQ_PRIORITY_LIMIT);
    expect(fairPriority("high", 0)).toBe(1);
    expect(fairPriority("high", -4)).toBe(1);
  });

  it("reads the class back from a priority, for aging", () => {
    for (const priority of ["high", "normal", "low"] as const)
      for (const rank of [1, 2, PRIORITY_CLASS_WIDTH])
        expect(priorityClassOf(fairPriority(priority, rank))).toBe(priority);
  });

  it("ages low to normal and normal to high; high stays", () => {
    expect(promotedClass("low")).toBe("normal");
    expect(promotedClass("normal")).toBe("high");
    expect(promotedClass("high")).toBeNull();
  });
});
