import type { Flow, FlowStepResult, FlowStreamUpdate, RunDetail, TokenUsage } from "@ensemble/sdk";
import type { FlowGraph } from "./graph-layout.js";

export type StepState =
  "pending" | "running" | "waiting" | "batched" | "retrying" | "completed" | "failed" | "skipped" | "cancelled";

/** One provider call of a step: a retry or a fallback is another attempt. */
export interface Attempt {
  iteration: number;
  attempt: number;
  provider: string;
  model: string;
  startedAt: string;
  endedAt: string | null;
  outcome: "running" | "completed" | "failed" | "retrying" | "cancelled";
  error: string | null;
}

export interface StepView {
  id: string;
  state: StepState;
  iteration: number;
  provider: string;
  model: string;
  /** What the latest attempt has streamed so far (its `step_progress` deltas). */
  streamed: string;
  output: string | null;
  usage: TokenUsage | null;
  cost: number | null;
  startedAt: string | null;
  completedAt: string | null;
  error: string | null;
  attempts: Attempt[];
  /** A rerun's step copied from this run (no call, no cost); null otherwise. */
  reusedFrom: number | null;
}

export interface RunView {
  run: number;
  status: string;
  steps: Record<string, StepView>;
  finalOutput: string | null;
  totalCost: number;
  totalTokens: number;
  error: string | null;
  /** The id of the last event applied: where a reconnect resumes. */
  lastEventId: number;
  /** True while a replay is passing an earlier run's events (they are not shown). */
  skippingEarlierRun: boolean;
}

/** A streamed step keeps at most this much of its text on the page. */
export const MAX_STREAMED_CHARS = 200_000;
const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled", "timed_out"]);

export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

function emptyStep(id: string, graph: FlowGraph): StepView {
  const step = graph.steps.find((s) => s.id === id);
  return {
    id,
    state: "pending",
    iteration: 0,
    provider: step?.provider ?? "",
    model: step?.model ?? "",
    streamed: "",
    output: null,
    usage: null,
    cost: null,
    startedAt: null,
    completedAt: null,
    error: null,
    attempts: [],
    reusedFrom: null,
  };
}

function fromResult(graph: FlowGraph, r: FlowStepResult): StepView {
  return {
    ...emptyStep(r.stepId, graph),
    state: r.status === "success" ? "completed" : r.status,
    iteration: r.iteration,
    provider: r.provider,
    model: r.model,
    output: r.output,
    usage: r.usage,
    cost: r.cost,
    startedAt: r.startedAt,
    completedAt: r.completedAt,
    error: r.error ? `${r.error.code}: ${r.error.message}` : null,
    reusedFrom: r.reusedFrom ?? null,
  };
}

/** What a run's view starts from: the latest run of a flow, or one run of its history. */
interface RunSnapshot {
  run: number;
  status: string;
  steps: FlowStepResult[];
  finalOutput: string | null;
  totalCost: number;
  totalTokens: number;
  error: { code: string; message: string } | null;
}

function viewOf(graph: FlowGraph, snapshot: RunSnapshot): RunView {
  const steps: Record<string, StepView> = {};
  for (const s of graph.steps) steps[s.id] = emptyStep(s.id, graph);
  // A loop step has one result per iteration; the latest one is shown.
  for (const r of snapshot.steps) {
    if (!steps[r.stepId] || r.iteration >= steps[r.stepId]!.iteration) steps[r.stepId] = fromResult(graph, r);
  }
  return {
    run: snapshot.run,
    status: snapshot.status,
    steps,
    finalOutput: snapshot.finalOutput,
    totalCost: snapshot.totalCost,
    totalTokens: snapshot.totalTokens,
    error: snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : null,
    lastEventId: 0,
    skippingEarlierRun: false,
  };
}

/** The latest run as GET /v1/flows/:flowId has it; events then bring it up to date. */
export function initialRunView(graph: FlowGraph, flow: Flow): RunView {
  return viewOf(graph, {
    ...flow,
    steps: flow.stepResults ?? [],
    finalOutput: flow.result?.finalOutput ?? null,
  });
}

/** An earlier run as GET /v1/flows/:flowId/runs/:run has it (it has ended: no events follow). */
export function pastRunView(graph: FlowGraph, run: RunDetail): RunView {
  return viewOf(graph, run);
}

type EventData = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
const errorText = (v: unknown): string | null => {
  if (!v || typeof v !== "object") return null;
  const e = v as { code?: unknown; message?: unknown };
  return `${str(e.code) ?? "error"}: ${str(e.message) ?? ""}`;
};

function endAttempt(step: StepView, at: string, outcome: Attempt["outcome"], error: string | null): Attempt[] {
  const last = step.attempts.at(-1);
  if (!last || last.outcome !== "running") return step.attempts;
  return [...step.attempts.slice(0, -1), { ...last, endedAt: at, outcome, error }];
}

/**
 * Applies one event of the flow's stream. Events of an earlier run (a replay starts at
 * the first run) are skipped; a `flow_start` of a newer run starts the view afresh.
 */
export function applyEvent(view: RunView, graph: FlowGraph, event: FlowStreamUpdate): RunView {
  if (event.id <= view.lastEventId) return view;
  const data = (event.data ?? {}) as EventData;
  const at = event.timestamp;
  if (event.type === "flow_start") {
    const run = num(data.run) ?? view.run;
    if (run < view.run) return { ...view, lastEventId: event.id, skippingEarlierRun: true };
    const steps: Record<string, StepView> = {};
    for (const s of graph.steps) steps[s.id] = emptyStep(s.id, graph);
    return {
      run,
      status: "running",
      steps,
      finalOutput: null,
      totalCost: 0,
      totalTokens: 0,
      error: null,
      lastEventId: event.id,
      skippingEarlierRun: false,
    };
  }
  if (view.skippingEarlierRun) return { ...view, lastEventId: event.id };
  const next: RunView = { ...view, lastEventId: event.id };
  const stepId = event.stepId;
  const step = stepId ? (view.steps[stepId] ?? emptyStep(stepId, graph)) : null;
  const put = (s: StepView): RunView => ({ ...next, steps: { ...next.steps, [s.id]: s } });
  switch (event.type) {
    case "step_start": {
      if (!step) return next;
      const provider = str(data.provider) ?? step.provider;
      const model = str(data.model) ?? step.model;
      const attempt: Attempt = {
        iteration: num(data.iteration) ?? 0,
        attempt: num(data.attempt) ?? 0,
        provider,
        model,
        startedAt: at,
        endedAt: null,
        outcome: "running",
        error: null,
      };
      return put({
        ...step,
        state: "running",
        iteration: attempt.iteration,
        provider,
        model,
        streamed: "",
        startedAt: step.startedAt ?? at,
        attempts: [...endAttempt(step, at, "failed", null), attempt],
      });
    }
    case "step_progress": {
      if (!step) return next;
      const streamed = step.streamed + (str(data.delta) ?? "");
      return put({ ...step, streamed: streamed.slice(-MAX_STREAMED_CHARS) });
    }
    case "step_retry": {
      if (!step) return next;
      const error = errorText(data.error);
      return put({ ...step, state: "retrying", error, attempts: endAttempt(step, at, "retrying", error) });
    }
    case "step_complete":
      if (!step) return next;
      return put({
        ...step,
        state: "completed",
        output: str(data.output),
        provider: str(data.provider) ?? step.provider,
        model: str(data.model) ?? step.model,
        usage: (data.usage as TokenUsage | undefined) ?? null,
        cost: num(data.cost),
        reusedFrom: num(data.reusedFrom),
        completedAt: at,
        error: null,
        attempts: endAttempt(step, at, "completed", null),
      });
    case "error": {
      if (!step) return { ...next, error: errorText(data.error) };
      const error = errorText(data.error);
      return put({ ...step, state: "failed", error, completedAt: at, attempts: endAttempt(step, at, "failed", error) });
    }
    case "step_skipped":
      if (!step) return next;
      return put({ ...step, state: "skipped", error: str(data.reason), completedAt: at });
    case "step_waiting": {
      // An approval step: what the approver sees stands where a model's text would stream.
      if (!step) return next;
      const waiting = put({ ...step, state: "waiting", streamed: str(data.prompt) ?? "", startedAt: at });
      return Object.values(waiting.steps).some((s) => s.state === "running" || s.state === "retrying")
        ? waiting
        : { ...waiting, status: "waiting" };
    }
    case "step_batched":
      // In its provider's batch: no call runs until the batch answers (or the step falls back).
      if (!step) return next;
      return put({ ...step, state: "batched", provider: str(data.provider) ?? step.provider, startedAt: at });
    case "flow_complete":
      return {
        ...next,
        status: str(data.status) ?? "completed",
        finalOutput: str(data.finalOutput),
        totalCost: num(data.totalCost) ?? next.totalCost,
        totalTokens: num(data.totalTokens) ?? next.totalTokens,
      };
    case "flow_failed":
      return { ...next, status: str(data.status) ?? "failed", error: errorText(data.error) };
    case "flow_cancelled": {
      const steps: Record<string, StepView> = {};
      for (const [id, s] of Object.entries(next.steps))
        steps[id] =
          s.state === "running" || s.state === "retrying" || s.state === "waiting" || s.state === "batched"
            ? { ...s, state: "cancelled", attempts: endAttempt(s, at, "cancelled", null) }
            : s;
      return { ...next, status: "cancelled", steps };
    }
    default:
      return next;
  }
}
