import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type FlowGraph } from "../graph-layout.js";
import type { RunView } from "../run-state.js";

const PAD = 8;
const truncate = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The run's steps as a DAG, each coloured by its state; a click shows a step below. */
export function RunGraph(props: {
  graph: FlowGraph;
  view: RunView;
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const layout = layoutGraph(props.graph);
  const byId = new Map(props.graph.steps.map((s) => [s.id, s]));
  return (
    <div class="graph" data-testid="run-graph">
      {props.graph.loop && (
        <p class="muted">
          Loop: {props.graph.loop.steps.join(" → ")}, at most {props.graph.loop.maxIterations} iterations
        </p>
      )}
      <svg
        width={layout.width + PAD * 2}
        height={layout.height + PAD * 2}
        viewBox={`${-PAD} ${-PAD} ${layout.width + PAD * 2} ${layout.height + PAD * 2}`}
        role="img"
        aria-label="the run's steps"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <path key={`${e.from}-${e.to}`} d={e.path} class="edge" marker-end="url(#arrow)" />
        ))}
        {layout.steps.map((placed) => {
          const step = props.view.steps[placed.id];
          const def = byId.get(placed.id);
          const state = step?.state ?? "pending";
          return (
            <g
              key={placed.id}
              transform={`translate(${placed.x} ${placed.y})`}
              class={`node ${state}${props.selected === placed.id ? " selected" : ""}`}
              data-step={placed.id}
              data-state={state}
              onClick={() => props.onSelect(placed.id)}
            >
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="8" />
              <text x="12" y="22" class="title">
                {placed.id}
                {def?.conditional ? " ?" : ""}
                {def?.inLoop ? " ↻" : ""}
              </text>
              <text x="12" y="42" class="sub">
                {truncate(`${step?.provider ?? def?.provider}/${step?.model ?? def?.model}`, 28)}
              </text>
              <text x="12" y="60" class="sub">
                {state}
                {step && step.attempts.length > 1 ? ` · ${step.attempts.length} attempts` : ""}
                {step && step.iteration > 0 ? ` · iteration ${step.iteration}` : ""}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
