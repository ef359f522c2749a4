import type { FlowStreamUpdate } from "@ensemble/sdk";

interface StepLine {
  id: string;
  state: string;
  target: string;
  attempt: number;
  startedAt: number | null;
  endedAt: number | null;
  tail: string;
  detail: string;
}

const SYMBOL: Record<string, string> = {
  pending: "·",
  running: "▶",
  retrying: "↻",
  completed: "✓",
  failed: "✗",
  skipped: "–",
  cancelled: "■",
};
/** How much of a running step's streamed text a live line shows (its end). */
const TAIL_CHARS = 60;

type Data = Record<string, unknown>;
const text = (v: unknown): string => (typeof v === "string" ? v : "");
const errorOf = (v: unknown): string => {
  const e = (v ?? {}) as { code?: unknown; message?: unknown };
  return `${text(e.code) || "error"}: ${text(e.message)}`;
};
const seconds = (from: number | null, to: number | null): string =>
  from === null ? "" : `${(((to ?? Date.now()) - from) / 1000).toFixed(1)} s`;

/**
 * Shows a run as it moves. On a terminal: one line per step, redrawn in place, with the
 * end of what a running step has streamed. Elsewhere (a pipe, a CI log): one line per
 * change, and each streamed chunk as `<step> | <text>`.
 */
export class RunProgress {
  private readonly steps = new Map<string, StepLine>();
  private drawnLines = 0;
  private paused = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly live: boolean,
  ) {}

  apply(event: FlowStreamUpdate): void {
    const data = (event.data ?? {}) as Data;
    const at = Date.parse(event.timestamp);
    const step = event.stepId ? this.step(event.stepId) : null;
    switch (event.type) {
      case "flow_start":
        this.steps.clear();
        this.log(
          `run ${typeof data.run === "number" ? data.run : "?"} started: ${text(data.name)} (${text(data.type)})`,
        );
        break;
      case "step_start":
        if (!step) break;
        Object.assign(step, {
          state: "running",
          target: `${text(data.provider)}/${text(data.model)}`,
          attempt: typeof data.attempt === "number" ? data.attempt + 1 : step.attempt + 1,
          startedAt: step.startedAt ?? at,
          tail: "",
          detail: "",
        });
        this.log(`${step.id}: started on ${step.target}${step.attempt > 1 ? ` (attempt ${step.attempt})` : ""}`);
        break;
      case "step_progress":
        if (!step) break;
        step.tail = (step.tail + text(data.delta)).slice(-TAIL_CHARS * 4);
        if (!this.live) this.out.write(`${step.id} | ${text(data.delta)}\n`);
        break;
      case "step_retry":
        if (!step) break;
        Object.assign(step, { state: "retrying", detail: errorOf(data.error) });
        this.log(`${step.id}: retrying after ${step.detail}`);
        break;
      case "step_complete": {
        if (!step) break;
        const usage = (data.usage ?? {}) as { totalTokens?: number };
        const cost = typeof data.cost === "number" ? `, $${data.cost.toFixed(6)}` : "";
        Object.assign(step, {
          state: "completed",
          endedAt: at,
          target: `${text(data.provider)}/${text(data.model)}`,
          detail: `${usage.totalTokens ?? 0} tokens${cost}`,
        });
        this.log(`${step.id}: completed in ${seconds(step.startedAt, at)}, ${step.detail}`);
        break;
      }
      case "error":
        if (!step) break;
        Object.assign(step, { state: "failed", endedAt: at, detail: errorOf(data.error) });
        this.log(`${step.id}: failed: ${step.detail}`);
        break;
      case "step_waiting":
        if (!step) break;
        Object.assign(step, { state: "waiting", startedAt: at, detail: `until ${text(data.expiresAt)}` });
        this.log(`${step.id}: waiting for a decision ${step.detail}`);
        break;
      case "step_skipped":
        if (!step) break;
        Object.assign(step, { state: "skipped", endedAt: at, detail: text(data.reason) });
        this.log(`${step.id}: skipped (${step.detail})`);
        break;
      case "flow_cancelled":
        for (const s of this.steps.values())
          if (s.state === "running" || s.state === "retrying" || s.state === "waiting") s.state = "cancelled";
        break;
      default:
        break;
    }
    this.draw();
  }

  /** Stops redrawing (while a question is asked on the terminal). */
  pause(): void {
    this.paused = true;
    this.drawnLines = 0;
  }

  resume(): void {
    this.paused = false;
    this.draw();
  }

  private step(id: string): StepLine {
    let step = this.steps.get(id);
    if (!step) {
      step = { id, state: "pending", target: "", attempt: 0, startedAt: null, endedAt: null, tail: "", detail: "" };
      this.steps.set(id, step);
    }
    return step;
  }

  private log(line: string): void {
    if (!this.live) this.out.write(`${line}\n`);
  }

  private draw(): void {
    if (!this.live || this.paused) return;
    const width = Math.max(...[...this.steps.keys()].map((id) => id.length), 4);
    const lines = [...this.steps.values()].map((s) => {
      const streamed =
        s.state === "running" && s.tail
          ? `  “${s.tail.replace(/\s+/g, " ").slice(-TAIL_CHARS)}”`
          : s.detail
            ? `  ${s.detail}`
            : "";
      return `${SYMBOL[s.state] ?? "?"} ${s.id.padEnd(width)}  ${s.state.padEnd(9)} ${seconds(s.startedAt, s.endedAt).padStart(7)}  ${s.target}${streamed}`;
    });
    // Move up over the lines drawn before and redraw them (clearing each to the end).
    const up = this.drawnLines ? `\x1b[${this.drawnLines}A` : "";
    this.out.write(`${up}${lines.map((l) => `\r\x1b[2K${l}`).join("\n")}\n`);
    this.drawnLines = lines.length;
  }
}
