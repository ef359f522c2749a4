import { Writable } from "node:stream";
import type { FlowEventData, FlowEventType, FlowStreamUpdateOf } from "@ensemble/sdk";
import { RunProgress } from "./run-progress.js";

let id = 0;
// Only the fields the view reads: the cast marks events that are partial on purpose.
const event = <T extends FlowEventType>(
  type: T,
  stepId: string | undefined,
  data: Partial<FlowEventData<T>>,
): FlowStreamUpdateOf<T> =>
  ({
    id: ++id,
    type,
    flowId: "f",
    ...(stepId ? { stepId } : {}),
    data,
    timestamp: new Date(1_700_000_000_000 + id * 500).toISOString(),
  }) as unknown as FlowStreamUpdateOf<T>;
const sink = (): { stream: Writable; text: () => string } => {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
};
const RUN = [
  event("flow_start", undefined, { run: 1, name: "Review", type: "critique" }),
  event("step_start", "draft", { attempt: 0, provider: "sim", model: "echo" }),
  event("step_progress", "draft", { delta: "Hello " }),
  event("step_progress", "draft", { delta: "world" }),
  event("step_complete", "draft", {
    provider: "sim",
    model: "echo",
    usage: { promptTokens: 5, completionTokens: 7, totalTokens: 12 },
    cost: 0.5,
  }),
];

describe("RunProgress", () => {
  beforeEach(() => (id = 0));

  it("in a log, writes one line per change and each streamed chunk under its step", () => {
    const out = sink();
    const progress = new RunProgress(out.stream, false);
    for (const e of RUN) progress.apply(e);
    expect(out.text().split("\n")).toEqual([
      "run 1 started: Review (critique)",
      "draft: started on sim/echo",
      "draft | Hello ",
      "draft | world",
      "draft: completed in 1.5 s, 12 tokens, $0.500000",
      "",
    ]);
  });

  it("on a terminal, redraws one line per step in place with the end of what it streams", () => {
    const out = sink();
    const progress = new RunProgress(out.stream, true);
    for (const e of RUN.slice(0, 4)) progress.apply(e);
    const frames = out.text().split("\r\x1b[2K");
    expect(frames.at(-1)).toMatch(/^▶ draft\s+running\s+.*sim\/echo\s+“Hello world”\n$/);
    expect(out.text()).toContain("\x1b[1A"); // moved up to redraw, not appended
    progress.apply(RUN[4]!);
    expect(out.text().split("\r\x1b[2K").at(-1)).toMatch(/^✓ draft\s+completed\s+1\.5 s\s+sim\/echo\s+12 tokens/);
  });
});
