import { capRetryMs } from "./fair-start.js";

describe("capRetryMs", () => {
  it("starts at 250 ms and doubles with each refusal of the job, up to 8 s, plus under 250 ms of jitter", () => {
    const within = (starts: number, base: number) => {
      const ms = capRetryMs(starts);
      expect(ms).toBeGreaterThanOrEqual(base);
      expect(ms).toBeLessThan(base + 250);
    };
    within(1, 250);
    within(2, 500);
    within(3, 1_000);
    within(6, 8_000);
    within(40, 8_000);
    within(0, 250);
  });
});
