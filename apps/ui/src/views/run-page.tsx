import type { Flow, RunDetail } from "@ensemble/sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api-client.js";
import { followEvents } from "../event-stream.js";
import { duration, usd } from "../format.js";
import { graphForRun, type FlowGraph } from "../graph-layout.js";
import { applyEvent, initialRunView, isTerminal, pastRunView, type RunView } from "../run-state.js";
import { RunGraph } from "./run-graph.js";
import { RunList } from "./run-list.js";
import { StepPanel } from "./step-panel.js";
import { AttemptTimeline } from "./attempt-timeline.js";
import { useLoad } from "./use-load.js";

/** A flow's run — the latest, followed live, or `run` from its history — and the list of its runs. */
export function RunPage({ flowId, run }: { flowId: string; run: number | null }) {
  const loaded = useLoad(async () => {
    const [flow, flowGraph, runs] = await Promise.all([
      api.getFlow(flowId),
      api.getGraph(flowId),
      api.listRuns(flowId),
    ]);
    const shown = run ?? flow.run;
    const detail = shown > 0 ? await api.getRun(flowId, shown) : null;
    const graph = detail ? graphForRun(flowGraph, detail.definition) : flowGraph;
    // The latest run is followed live; an earlier one is read as it ended.
    return { flow, graph, runs, past: detail && detail.run !== flow.run ? detail : null };
  }, [flowId, run]);
  if (loaded.state === "loading") return <p class="muted">Loading the run…</p>;
  if (loaded.state === "failed") return <p class="error">{loaded.message}</p>;
  const { flow, graph, runs, past } = loaded.value;
  return (
    <>
      {past ? (
        <PastRun key={`${flowId}#${past.run}`} flow={flow} graph={graph} run={past} />
      ) : (
        <LiveRun key={flowId} flow={flow} graph={graph} />
      )}
      <RunList flowId={flow.id} runs={runs} shown={past?.run ?? flow.run} />
    </>
  );
}

function PastRun({ flow, graph, run }: { flow: Flow; graph: FlowGraph; run: RunDetail }) {
  const view = pastRunView(graph, run);
  const note = run.rerunOf ? `Rerun of run ${run.rerunOf.run} from step "${run.rerunOf.fromStep}".` : null;
  return <RunDetails flow={flow} graph={graph} view={view} note={note} onCancel={null} />;
}

function LiveRun({ flow, graph }: { flow: Flow; graph: FlowGraph }) {
  const [view, setView] = useState<RunView>(() => initialRunView(graph, flow));
  const [streamNote, setStreamNote] = useState<string | null>(null);
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
  return <RunDetails flow={flow} graph={graph} view={view} note={streamNote} onCancel={() => void cancel()} />;
}

/** One run: its graph, the selected step, the attempts' timeline and the final output. */
function RunDetails({
  flow,
  graph,
  view,
  note,
  onCancel,
}: {
  flow: Flow;
  graph: FlowGraph;
  view: RunView;
  note: string | null;
  /** Null for a run of the history: only the latest run can be cancelled. */
  onCancel: (() => void) | null;
}) {
  const [selected, setSelected] = useState<string | null>(null);
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
        {onCancel && !isTerminal(view.status) && view.status !== "pending" && (
          <button type="button" class="danger" onClick={onCancel}>
            Cancel run
          </button>
        )}
      </div>
      {note && <p class="note">{note}</p>}
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
