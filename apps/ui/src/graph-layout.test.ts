import { graphForRun, layoutGraph, NODE_WIDTH, type FlowGraph, type GraphStep } from "./graph-layout.js";

const step = (id: string, dependsOn: string[] = []): GraphStep => ({
  id,
  action: "generate",
  provider: "sim",
  model: "echo",
  fallbacks: [],
  dependsOn,
  conditional: false,
  optional: false,
  inLoop: false,
});
const graph = (steps: GraphStep[]): FlowGraph => ({ flowId: "f", type: "parallel", steps, loop: null });

describe("layoutGraph", () => {
  it("puts each step one column right of the furthest step it waits for", () => {
    const layout = layoutGraph(graph([step("a"), step("b"), step("c", ["a"]), step("merge", ["b", "c"])]));
    expect(layout.steps.map((s) => [s.id, s.column, s.row])).toEqual([
      ["a", 0, 0],
      ["b", 0, 1],
      ["c", 1, 0],
      ["merge", 2, 0],
    ]);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual(["a->c", "b->merge", "c->merge"]);
    expect(layout.width).toBeGreaterThan(2 * NODE_WIDTH);
  });

  it("survives a dependency cycle or an unknown step without looping", () => {
    const layout = layoutGraph(graph([step("a", ["b"]), step("b", ["a"]), step("c", ["ghost"])]));
    expect(layout.steps).toHaveLength(3);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual(["b->a", "a->b"]);
  });
});

describe("graphForRun", () => {
  it("takes a rerun's overridden targets and keeps the graph's shape", () => {
    const flow = graph([step("a"), step("b", ["a"])]);
    const run = graphForRun(flow, {
      steps: [
        { id: "a", provider: "sim", model: "echo" },
        { id: "b", provider: "openai", model: "gpt-4o-mini", fallbacks: [{ provider: "sim", model: "echo" }] },
      ],
    });
    expect(run.steps.map((s) => [s.id, s.provider, s.model, s.dependsOn])).toEqual([
      ["a", "sim", "echo", []],
      ["b", "openai", "gpt-4o-mini", ["a"]],
    ]);
    expect(run.steps[1]?.fallbacks).toEqual([{ provider: "sim", model: "echo" }]);
  });
});
