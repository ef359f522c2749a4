import type { Flow, FlowEventData, FlowEventType, FlowStreamUpdate, FlowStreamUpdateOf } from "@ensemble/sdk";
import type { FlowGraph } from "./graph-layout.js";
import { applyEvent, initialRunView, type RunView } from "./run-state.js";

const graph: FlowGraph = {
  flowId: "f1",
  type: "sequential",
  loop: null,
  steps: ["draft", "review"].map((id, i) => ({
    id,
    action: "generate",
    provider: "openai",
    model: "gpt-4o",
    fallbacks: [{ provider: "anthropic", model: "claude" }],
    dependsOn: i ? ["draft"] : [],
    conditional: false,
    optional: false,
    inLoop: false,
  })),
};
const flow = { id: "f1", run: 2, status: "running", totalCost: 0, totalTokens: 0, result: null, error: null } as Flow;
let nextId = 0;
// Only the fields the view reads: the cast marks events that are partial on purpose.
const event = <T extends FlowEventType>(
  type: T,
  stepId: string | undefined,
  data: Partial<FlowEventData<T>>,
): FlowStreamUpdateOf<T> =>
  ({
    id: ++nextId,
    type,
    flowId: "f1",
    ...(stepId ? { stepId } : {}),
    data,
    timestamp: new Date(1_700_000_000_000 + nextId * 100).toISOString(),
  }) as unknown as FlowStreamUpdateOf<T>;
const play = (events: FlowStreamUpdate[]): RunView =>
  events.reduce((view, e) => applyEvent(view, graph, e), initialRunView(graph, flow));

describe("run state from the event stream", () => {
  beforeEach(() => (nextId = 0));

  it("follows a step from start through streamed tokens, a retry and a fallback to its output", () => {
    const view = play([
      event("flow_start", undefined, { run: 2 }),
      event("step_start", "draft", { iteration: 0, attempt: 0, provider: "openai", model: "gpt-4o" }),
      event("step_progress", "draft", { delta: "Hel" }),
      event("step_retry", "draft", { attempt: 1, error: { code: "rate_limited", message: "slow down" } }),
      event("step_start", "draft", { iteration: 0, attempt: 1, provider: "anthropic", model: "claude" }),
      event("step_progress", "draft", { delta: "Hello" }),
    ]);
    expect(view.steps.draft).toMatchObject({ state: "running", streamed: "Hello", provider: "anthropic" });
    expect(view.steps.draft!.attempts.map((a) => [a.provider, a.outcome, a.error])).toEqual([
      ["openai", "retrying", "rate_limited: slow down"],
      ["anthropic", "running", null],
    ]);

    const done = applyEvent(
      view,
      graph,
      event("step_complete", "draft", {
        output: "Hello world",
        provider: "anthropic",
        model: "claude",
        usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
        cost: 0.001,
      }),
    );
    expect(done.steps.draft).toMatchObject({ state: "completed", output: "Hello world", cost: 0.001 });
    expect(done.steps.draft!.attempts.at(-1)!.outcome).toBe("completed");
    expect(done.steps.review!.state).toBe("pending");
  });

  it("shows the latest run only: a replay skips an earlier run's events", () => {
    const view = play([
      event("flow_start", undefined, { run: 1 }),
      event("step_complete", "draft", { output: "old run" }),
      event("flow_complete", undefined, { status: "completed", finalOutput: "old run" }),
      event("flow_start", undefined, { run: 2 }),
      event("step_start", "draft", { attempt: 0, provider: "openai", model: "gpt-4o" }),
    ]);
    expect(view.run).toBe(2);
    expect(view.status).toBe("running");
    expect(view.steps.draft).toMatchObject({ state: "running", output: null });
    expect(view.finalOutput).toBeNull();
  });

  it("ignores an event it already applied (a resumed stream)", () => {
    const start = event("flow_start", undefined, { run: 2 });
    const delta = event("step_progress", "draft", { delta: "x" });
    const view = play([start, delta, delta]);
    expect(view.steps.draft!.streamed).toBe("x");
  });

  it("ends running steps as cancelled when the run is cancelled", () => {
    const view = play([
      event("flow_start", undefined, { run: 2 }),
      event("step_start", "draft", { attempt: 0 }),
      event("flow_cancelled", undefined, {}),
    ]);
    expect(view.status).toBe("cancelled");
    expect(view.steps.draft).toMatchObject({ state: "cancelled" });
  });
});
