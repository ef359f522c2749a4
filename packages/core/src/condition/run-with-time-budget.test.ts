import { runWithTimeBudget, TimeBudgetExceededError } from "./run-with-time-budget.js";

/** Blocks this thread for `ms` without using CPU, as being descheduled does. */
const descheduledFor = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

describe("runWithTimeBudget", () => {
  it("returns what the task returns", () => {
    expect(runWithTimeBudget(() => 42, 100)).toBe(42);
  });

  it("stops a task that spends its budget working", () => {
    expect(() =>
      runWithTimeBudget(() => {
        for (;;);
      }, 50),
    ).toThrow(TimeBudgetExceededError);
  });

  it("does not count time the thread was descheduled: a pure task runs again", () => {
    // On a busy or CPU-throttled machine a condition that needs microseconds can see its
    // wall-clock watchdog fire; that must not fail the step.
    let calls = 0;
    const result = runWithTimeBudget(() => {
      calls += 1;
      if (calls === 1) descheduledFor(150);
      return "done";
    }, 50);
    expect(result).toBe("done");
    expect(calls).toBe(2);
  });

  it("gives up on a task that is descheduled every time, after a few tries", () => {
    let calls = 0;
    expect(() =>
      runWithTimeBudget(() => {
        calls += 1;
        descheduledFor(80);
      }, 30),
    ).toThrow(TimeBudgetExceededError);
    expect(calls).toBe(3);
  });
});
