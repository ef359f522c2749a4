import { capMessage, capPeriod } from "./spend-caps.js";

describe("spend cap periods (UTC)", () => {
  it("a day runs from UTC midnight to the next, whatever the hour", () => {
    expect(capPeriod("daily", new Date("2026-12-31T23:59:59.999Z"))).toEqual({
      start: new Date("2026-12-31T00:00:00Z"),
      end: new Date("2027-01-01T00:00:00Z"),
    });
  });

  it("a month runs from its 1st to the next month's, across years and short months", () => {
    expect(capPeriod("monthly", new Date("2026-12-05T12:00:00Z"))).toEqual({
      start: new Date("2026-12-01T00:00:00Z"),
      end: new Date("2027-01-01T00:00:00Z"),
    });
    expect(capPeriod("monthly", new Date("2028-02-29T08:00:00Z")).end).toEqual(new Date("2028-03-01T00:00:00Z"));
  });

  it("the message names the cap, its field, the period and the reset", () => {
    const message = capMessage({
      period: "monthly",
      capUsd: 20,
      spentUsd: 20.5,
      resetsAt: new Date("2027-01-01T00:00:00Z"),
    });
    expect(message).toBe(
      "the monthly spend cap of $20 (monthlyUsd) is reached: $20.500000 spent this UTC month; it resets at 2027-01-01T00:00:00.000Z",
    );
  });
});
