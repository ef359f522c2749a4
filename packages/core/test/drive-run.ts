import { compileFlowOrThrow } from "../src/validation/compile-flow.js";
import type { CompiledFlow } from "../src/validation/compiled-flow.js";
import {
  planNextSteps,
  type FlowOutcome,
  type PlanDecision,
  type StepDispatch,
} from "../src/planner/plan-next-steps.js";
import { stepInput } from "../src/planner/resolve-inputs.js";
import { createRunState, type RunInputs, type StepRecord } from "../src/planner/step-record.js";
import type { StepError } from "../src/schema/results.js";

/** How a fake worker answers one dispatched attempt. */
export type Reply = { output: string } | { error: StepError & { retryAfterMs?: number } };
export type Responder = (dispatch: StepDispatch, input: string) => Reply;

export interface DrivenRun {
  flow: CompiledFlow;
  records: StepRecord[];
  decisions: PlanDecision[];
  dispatched: StepDispatch[];
  /** "step#iteration" in the order they ran. */
  ran: string[];
  inputs: Record<string, string>;
  outcome: FlowOutcome;
  rounds: number;
}

/**
 * Plays scheduler and workers around the pure planner: records what it decides,
 * runs every dispatch at once through `respond`, and repeats until the run ends.
 */
export function driveRun(
  definition: unknown,
  respond: Responder,
  run: RunInputs = { originalPrompt: "the request" },
  maxRounds = 500,
): DrivenRun {
  const flow = compileFlowOrThrow(definition);
  const byKey = new Map<string, StepRecord>();
  const decisions: PlanDecision[] = [];
  const dispatched: StepDispatch[] = [];
  const ran: string[] = [];
  const inputs: Record<string, string> = {};
  const put = (r: StepRecord): void => void byKey.set(`${r.stepId}#${r.iteration}`, r);
  for (let round = 1; round <= maxRounds; round += 1) {
    const decision = planNextSteps(flow, [...byKey.values()], run);
    decisions.push(decision);
    for (const s of decision.skip) put({ stepId: s.stepId, iteration: s.iteration, attempt: 0, status: "skipped" });
    for (const f of decision.fail)
      put({ stepId: f.stepId, iteration: f.iteration, attempt: 0, status: "failed", error: f.error });
    for (const c of decision.cancel) {
      const prior = byKey.get(`${c.stepId}#${c.iteration}`);
      put({
        stepId: c.stepId,
        iteration: c.iteration,
        attempt: prior?.attempt ?? 0,
        status: "cancelled",
        output: prior?.output ?? null,
      });
    }
    if (decision.outcome) {
      return {
        flow,
        records: [...byKey.values()],
        decisions,
        dispatched,
        ran,
        inputs,
        outcome: decision.outcome,
        rounds: round,
      };
    }
    for (const d of decision.dispatch) {
      dispatched.push(d);
      put({ stepId: d.stepId, iteration: d.iteration, attempt: d.attempt, status: "pending" });
    }
    for (const d of decision.dispatch) {
      const state = createRunState(flow, [...byKey.values()], run);
      const input = stepInput(state, d.stepId, d.iteration);
      inputs[`${d.stepId}#${d.iteration}`] = input;
      ran.push(`${d.stepId}#${d.iteration}`);
      const reply = respond(d, input);
      put(
        "output" in reply
          ? { stepId: d.stepId, iteration: d.iteration, attempt: d.attempt, status: "success", output: reply.output }
          : { stepId: d.stepId, iteration: d.iteration, attempt: d.attempt, status: "failed", error: reply.error },
      );
    }
  }
  throw new Error(`run did not end within ${maxRounds} rounds`);
}

export function step(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, provider: "sim", model: "echo", action: "generate", prompt: `do ${id}: {{ previous }}`, ...extra };
}
