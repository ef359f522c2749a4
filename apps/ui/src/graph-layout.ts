/** A step of GET /v1/flows/:flowId/graph. */
export interface GraphStep {
  id: string;
  action: string;
  provider: string;
  model: string;
  fallbacks: { provider: string; model: string }[];
  dependsOn: string[];
  conditional: boolean;
  optional: boolean;
  inLoop: boolean;
}

export interface FlowGraph {
  flowId: string;
  type: string;
  steps: GraphStep[];
  loop: { steps: string[]; maxIterations: number } | null;
}

/**
 * The flow's graph with the targets a run's definition gives its steps: a rerun's overrides
 * change a step's provider, model or fallbacks, never its place in the graph.
 */
export function graphForRun(
  graph: FlowGraph,
  definition: { steps: ({ id: string } & Partial<Pick<GraphStep, "provider" | "model" | "fallbacks">>)[] },
): FlowGraph {
  const byId = new Map(definition.steps.map((s) => [s.id, s]));
  return {
    ...graph,
    steps: graph.steps.map((step) => {
      const own = byId.get(step.id);
      // An approval step has no target of its own to show.
      if (!own || own.provider === undefined || own.model === undefined) return step;
      return { ...step, provider: own.provider, model: own.model, fallbacks: own.fallbacks ?? [] };
    }),
  };
}

export interface PlacedStep {
  id: string;
  column: number;
  row: number;
  x: number;
  y: number;
}

export interface GraphLayout {
  steps: PlacedStep[];
  edges: { from: string; to: string; path: string }[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 72;
const GAP_X = 64;
const GAP_Y = 24;

/**
 * Columns by longest path: a step stands one column right of the furthest step it waits
 * for, so every edge points right; steps of one column keep definition order.
 */
export function layoutGraph(graph: FlowGraph): GraphLayout {
  const byId = new Map(graph.steps.map((s) => [s.id, s]));
  const column = new Map<string, number>();
  const columnOf = (id: string, visiting: Set<string>): number => {
    const known = column.get(id);
    if (known !== undefined) return known;
    // dependsOn excludes loop back-edges, so a cycle means a malformed graph: stop there.
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const deps = (byId.get(id)?.dependsOn ?? []).filter((d) => byId.has(d));
    const value = deps.length ? 1 + Math.max(...deps.map((d) => columnOf(d, visiting))) : 0;
    column.set(id, value);
    return value;
  };
  const rows: number[] = [];
  const steps = graph.steps.map((s) => {
    const c = columnOf(s.id, new Set());
    const r = rows[c] ?? 0;
    rows[c] = r + 1;
    return { id: s.id, column: c, row: r, x: c * (NODE_WIDTH + GAP_X), y: r * (NODE_HEIGHT + GAP_Y) };
  });
  const placed = new Map(steps.map((s) => [s.id, s]));
  const edges = graph.steps.flatMap((s) =>
    s.dependsOn
      .filter((d) => placed.has(d))
      .map((d) => {
        const from = placed.get(d)!;
        const to = placed.get(s.id)!;
        const [x1, y1] = [from.x + NODE_WIDTH, from.y + NODE_HEIGHT / 2];
        const [x2, y2] = [to.x, to.y + NODE_HEIGHT / 2];
        const bend = (x2 - x1) / 2;
        return { from: d, to: s.id, path: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}` };
      }),
  );
  const columns = Math.max(1, ...steps.map((s) => s.column + 1));
  const tallest = Math.max(1, ...rows);
  return {
    steps,
    edges,
    width: columns * NODE_WIDTH + (columns - 1) * GAP_X,
    height: tallest * NODE_HEIGHT + (tallest - 1) * GAP_Y,
  };
}
