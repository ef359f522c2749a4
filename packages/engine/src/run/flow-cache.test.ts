import { CompiledFlowCache } from "./flow-cache.js";

const definition = (name: string) => ({
  name,
  type: "sequential",
  steps: ["one", "two"].map((id) => ({
    id,
    provider: "sim",
    model: "echo",
    action: "generate",
    prompt: "{{ previous }}",
  })),
});

describe("CompiledFlowCache", () => {
  it("compiles a definition once: flows with the same content share it, other content does not", () => {
    const cache = new CompiledFlowCache();
    const a = cache.forRun({ id: "flow-a", definition: definition("same") });
    expect(cache.forRun({ id: "flow-a", definition: definition("same") })).toBe(a);
    expect(cache.forRun({ id: "flow-b", definition: definition("same") })).toBe(a);
    const other = cache.forRun({ id: "flow-c", definition: definition("other") });
    expect(other).not.toBe(a);
    expect(other.definition.name).toBe("other");
  });

  it("keeps a single-step run apart from the whole flow", () => {
    const cache = new CompiledFlowCache();
    const whole = cache.forRun({ id: "flow-a", definition: definition("same") });
    const single = cache.forRun({ id: "flow-a", definition: definition("same"), onlyStepId: "two" });
    expect(single).not.toBe(whole);
    expect(single.steps.map((s) => s.id)).toEqual(["two"]);
    expect(cache.forRun({ id: "flow-b", definition: definition("same"), onlyStepId: "two" })).toBe(single);
  });

  it("forgets the least recently used beyond its capacity", () => {
    const cache = new CompiledFlowCache(2);
    const first = cache.forRun({ id: "1", definition: definition("1") });
    cache.forRun({ id: "2", definition: definition("2") });
    cache.forRun({ id: "3", definition: definition("3") });
    expect(cache.forRun({ id: "1", definition: definition("1") })).not.toBe(first);
  });
});
