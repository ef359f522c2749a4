import { isTerminalStepStatus } from "../schema/enums.js";
import type { CompiledLoop } from "../validation/compiled-flow.js";
import { conditionVariables } from "./resolve-inputs.js";
import { getRecord, type RunState } from "./step-record.js";

/** Where the flow's loop stands. */
export type LoopProgress =
  | { kind: "none" }
  /** Iteration `iteration` is the one whose body steps may run now. */
  | { kind: "running"; iteration: number }
  | { kind: "ended"; iteration: number; reason: "accepted" | "max_iterations" }
  /** The `until` expression failed to evaluate; the flow fails on it. */
  | { kind: "error"; iteration: number; message: string };

export function loopProgress(state: RunState): LoopProgress {
  const loop = state.flow.loop;
  if (!loop) return { kind: "none" };
  let iteration = 1;
  for (;;) {
    const check = getRecord(state, loop.checkAfter, iteration);
    if (check && isTerminalStepStatus(check.status)) {
      const verdict = checkUntil(state, loop, iteration);
      if (verdict.kind !== "continue") return verdict;
    }
    const bodyDone = loop.stepIds.every((id) => isTerminalStepStatus(getRecord(state, id, iteration)?.status ?? ""));
    if (!bodyDone) return { kind: "running", iteration };
    iteration += 1;
  }
}

function checkUntil(
  state: RunState,
  loop: CompiledLoop,
  iteration: number,
): { kind: "continue" } | Exclude<LoopProgress, { kind: "none" } | { kind: "running" }> {
  const check = getRecord(state, loop.checkAfter, iteration);
  if (check?.status === "success") {
    try {
      const variables = { ...conditionVariables(state, loop.checkAfter, iteration), previous: check.output ?? "" };
      if (loop.until.evaluate(variables, state.conditionBudget)) {
        return { kind: "ended", iteration, reason: "accepted" };
      }
    } catch (error) {
      return { kind: "error", iteration, message: error instanceof Error ? error.message : String(error) };
    }
  }
  if (iteration >= loop.maxIterations) return { kind: "ended", iteration, reason: "max_iterations" };
  return { kind: "continue" };
}
