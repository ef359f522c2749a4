import type { HeldStepLease } from "@ensemble/db";
import { LeaseKeeper } from "./lease-keeper.js";

describe("LeaseKeeper", () => {
  const kept = (ids: string[]) => new Set(ids);

  it("renews every held lease in one call per interval, and only while some are held", async () => {
    const calls: HeldStepLease[][] = [];
    const keeper = new LeaseKeeper(
      async (leases) => {
        calls.push(leases);
        return kept(leases.map((l) => l.id));
      },
      20,
      () => undefined,
    );
    const releases = ["a", "b", "c"].map((id, i) => keeper.hold({ id, leaseToken: i + 1 }, () => undefined));
    await new Promise((r) => setTimeout(r, 70));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toEqual([
      { id: "a", leaseToken: 1 },
      { id: "b", leaseToken: 2 },
      { id: "c", leaseToken: 3 },
    ]);
    for (const release of releases) release();
    const after = calls.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.length).toBe(after);
    expect(keeper.size).toBe(0);
  });

  it("tells the holder of a lease that was not renewed, once; a lease released meanwhile is not lost", async () => {
    let release: () => void = () => undefined;
    const keeper = new LeaseKeeper(
      async () => {
        release(); // "b" commits while the renewal is out
        return kept([]);
      },
      60_000,
      () => undefined,
    );
    const lost: string[] = [];
    keeper.hold({ id: "a", leaseToken: 1 }, () => lost.push("a"));
    release = keeper.hold({ id: "b", leaseToken: 1 }, () => lost.push("b"));
    await keeper.renewAll();
    await keeper.renewAll();
    expect(lost).toEqual(["a"]);
    expect(keeper.size).toBe(0);
  });

  it("does not send a second renewal while one is under way, and survives a failed one", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let fail = true;
    const errors: unknown[] = [];
    const keeper = new LeaseKeeper(
      async (leases) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight -= 1;
        if (fail) throw new Error("connection refused");
        return kept(leases.map((l) => l.id));
      },
      60_000,
      (err) => errors.push(err),
    );
    const lost: string[] = [];
    const release = keeper.hold({ id: "a", leaseToken: 1 }, () => lost.push("a"));
    await Promise.all([keeper.renewAll(), keeper.renewAll(), keeper.renewAll()]);
    expect(maxInFlight).toBe(1);
    expect(errors).toHaveLength(1);
    expect(lost).toEqual([]); // a failed renewal is not a lost lease: the next one tries again
    fail = false;
    await keeper.renewAll();
    expect(lost).toEqual([]);
    expect(keeper.size).toBe(1);
    release();
  });

  it("renews what lives alongside the leases (a user's in-flight slot) on the same heartbeat, and stops with the last of them", async () => {
    let leaseRenewals = 0;
    const keeper = new LeaseKeeper(
      async (leases) => {
        leaseRenewals += 1;
        return kept(leases.map((l) => l.id));
      },
      20,
      () => undefined,
    );
    let slotRenewals = 0;
    const stopSlot = keeper.renewAlongside(() => void (slotRenewals += 1));
    const release = keeper.hold({ id: "a", leaseToken: 1 }, () => undefined);
    await until(() => slotRenewals >= 2);
    expect(slotRenewals).toBe(leaseRenewals); // one heartbeat for both
    release();
    // The slot alone keeps the heartbeat going (its job may be between two steps' leases).
    const held = slotRenewals;
    await until(() => slotRenewals > held);
    expect(leaseRenewals).toBe(held); // no lease left to renew
    stopSlot();
    const stopped = slotRenewals;
    await new Promise((r) => setTimeout(r, 50));
    expect(slotRenewals).toBe(stopped);
  });

  it("splits thousands of leases into statements of at most 500", async () => {
    const sizes: number[] = [];
    const keeper = new LeaseKeeper(
      async (leases) => {
        sizes.push(leases.length);
        return kept(leases.map((l) => l.id));
      },
      60_000,
      () => undefined,
    );
    const releases = Array.from({ length: 1_200 }, (_, i) =>
      keeper.hold({ id: `s${i}`, leaseToken: 1 }, () => undefined),
    );
    await keeper.renewAll();
    expect(sizes).toEqual([500, 500, 200]);
    for (const release of releases) release();
  });
});

/** Resolves once `condition` holds (checked every 5 ms); fails after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
