import type { Flow } from "@ensemble/sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api-client.js";
import { followEvents } from "../event-stream.js";
import { duration, usd } from "../format.js";
import type { FlowGraph } from "../graph-layout.js";
import { applyEvent, initialRunView, isTerminal, type RunView } from "../run-state.js";
import { RunGraph } from "./run-graph.js";
import { StepPanel } from "./step-panel.js";
import { AttemptTimeline } from "./attempt-timeline.js";
import { useLoad } from "./use-load.js";

export function RunPage({ flowId }: { flowId: string }) {
  const loaded = useLoad(async () => {
    const [flow, graph] = await Promise.all([api.getFlow(flowId), api.getGraph(flowId)]);
    return { flow, graph };
  }, [flowId]);
  if (loaded.state === "loading") return <p class="muted">Loading the run…</p>;
  if (loaded.state === "failed") return <p class="error">{loaded.message}</p>;
  return <LiveRun key={flowId} flow={loaded.value.flow} graph={loaded.value.graph} />;
}

function LiveRun({ flow, graph }: { flow: Flow; graph: FlowGraph }) {
  const [view, setView] = useState<RunView>(() => initialRunView(graph, flow));
  const [streamNote, setStreamNote] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const viewRef = useRef(view);
  viewRef.current = view;
  useEffect(
    () =>
      followEvents(flow.id, {
        onEvent: (event) => setView((v) => (viewRef.current = applyEvent(v, graph, event))),
        runEnded: () => isTerminal(viewRef.current.status),
        onEnd: () => setStreamNote(null),
        onError: setStreamNote,
      }),
    [flow.id],
  );
  const cancel = async (): Promise<void> => {
    try {
      await api.cancel(flow.id);
    } catch (err) {
      setStreamNote((err as Error).message);
    }
  };
  const focus =
    selected ??
    Object.values(view.steps).find((s) => s.state === "running" || s.state === "retrying")?.id ??
    graph.steps.at(-1)?.id ??
    null;
  const startedAt = Object.values(view.steps)
    .map((s) => s.startedAt)
    .filter((t): t is string => t !== null)
    .sort()[0];
  const endedAt = isTerminal(view.status)
    ? (Object.values(view.steps)
        .map((s) => s.completedAt)
        .filter((t): t is string => t !== null)
        .sort()
        .at(-1) ?? null)
    : null;
  return (
    <section class="run">
      <p class="crumbs">
        <a href="#/">Threads</a> / <a href={`#/threads/${encodeURIComponent(flow.threadId)}`}>thread</a> / {flow.name}
      </p>
      <div class="run-head">
        <h1>
          {flow.name} <span class="muted">run {view.run}</span>
        </h1>
        <span class={`badge ${view.status}`} data-testid="run-status">
          {view.status}
        </span>
        <span>{usd(view.totalCost)}</span>
        <span>{view.totalTokens} tokens</span>
        <span>{duration(startedAt ?? null, endedAt)}</span>
        {!isTerminal(view.status) && view.status !== "pending" && (
          <button type="button" class="danger" onClick={() => void cancel()}>
            Cancel run
          </button>
        )}
      </div>
      {streamNote && <p class="note">{streamNote}</p>}
      {view.error && <p class="error">{view.error}</p>}
      <RunGraph graph={graph} view={view} selected={focus} onSelect={setSelected} />
      {focus && view.steps[focus] && <StepPanel step={view.steps[focus]} graph={graph} />}
      <AttemptTimeline view={view} />
      {view.finalOutput !== null && (
        <div class="final">
          <h2>Final output</h2>
          <pre data-testid="final-output">{view.finalOutput}</pre>
        </div>
      )}
    </section>
  );
}
