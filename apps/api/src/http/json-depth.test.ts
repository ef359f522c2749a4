import { findTooDeepPath } from "./json-depth.js";

const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

describe("findTooDeepPath", () => {
  it("accepts values up to the bound, counting the top level as 1", () => {
    expect(findTooDeepPath({ a: { b: [1, { c: 2 }] } }, 4)).toBeNull();
    expect(findTooDeepPath(nested(3), 3)).toBeNull();
    expect(findTooDeepPath("text", 1)).toBeNull();
    expect(findTooDeepPath(null, 1)).toBeNull();
  });

  it("names the first container past the bound by its path", () => {
    expect(findTooDeepPath(nested(4), 3)).toBe("a.a.a");
    expect(findTooDeepPath({ ok: 1, list: [{ x: [[1]] }] }, 3)).toBe("list[0].x");
  });

  it("walks hostile depths without recursion", () => {
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(findTooDeepPath(deep, 32)).toBe(`${"[0]".repeat(32)}`);
  });
});
