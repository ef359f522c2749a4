import { KeyConcurrency } from "./key-concurrency.js";

describe("KeyConcurrency", () => {
  it("runs at most perKey requests of a key at once, the rest in arrival order; other keys are not held", async () => {
    const concurrency = new KeyConcurrency(2);
    const order: string[] = [];
    const run = async (key: string, name: string) => {
      const release = await concurrency.acquire(key);
      order.push(name);
      return release;
    };
    const first = await run("a", "a1");
    const second = await run("a", "a2");
    const third = run("a", "a3");
    const fourth = run("a", "a4");
    const other = await run("b", "b1"); // another key runs at once
    expect(order).toEqual(["a1", "a2", "b1"]);
    first();
    first(); // a second release of the same turn frees nothing more
    await third;
    expect(order).toEqual(["a1", "a2", "b1", "a3"]);
    second();
    (await third)();
    (await fourth)();
    other();
    expect(order).toEqual(["a1", "a2", "b1", "a3", "a4"]);
    expect(concurrency.size).toBe(0); // nothing kept for keys with nothing in flight
  });
});
