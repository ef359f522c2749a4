import { ConditionEvaluationError } from "../condition/condition-expression.js";
import type { StepError } from "../schema/results.js";
import type { CompiledStep } from "../validation/compiled-flow.js";
import { finalOutput } from "./final-output.js";
import { loopProgress, type LoopProgress } from "./loop-progress.js";
import { conditionVariables, instanceDependencies } from "./resolve-inputs.js";
import { budgetExceeded } from "./budget.js";
import { nextAttempt } from "./step-targets.js";
import { createRunState, getRecord, instanceKey, isInFlight, type RunInputs, type StepRecord } from "./step-record.js";
import type { CompiledFlow } from "../validation/compiled-flow.js";

export interface StepDispatch {
  stepId: string;
  iteration: number;
  attempt: number;
  /** Wait this long before running (retry backoff). */
  delayMs: number;
  /** The step's condition is a code hook: the worker checks it before calling the provider. */
  checkHookCondition: boolean;
}

export interface StepSkip {
  stepId: string;
  iteration: number;
  reason: string;
}

export interface StepFailure {
  stepId: string;
  iteration: number;
  error: StepError;
}

export interface StepCancel {
  stepId: string;
  iteration: number;
  /** A worker may be running it: abort the call. Otherwise it never started. */
  inFlight: boolean;
}

export type FlowOutcome =
  | { status: "completed"; finalOutput: string | null }
  /** `stepId` is "" when no one step failed (the budget was spent). */
  | { status: "failed"; stepId: string; iteration: number; error: StepError };

/** What to do next. Record skips, failures and cancels; enqueue dispatches; end the run on an outcome. */
export interface PlanDecision {
  dispatch: StepDispatch[];
  skip: StepSkip[];
  fail: StepFailure[];
  cancel: StepCancel[];
  outcome: FlowOutcome | null;
}

const DONE_OK = new Set(["success", "skipped"]);

/**
 * The planner: a pure function from (compiled flow, step records so far, run inputs)
 * to the next actions. It never repeats an action already recorded: a dispatch
 * is for an instance with no record, or for the next attempt of a failed one.
 *
 * Failure rule: a failed attempt is retried while the step has attempts left
 * (`retryOnFailure`, `maxRetries`) and the error is not marked non-retryable, then
 * its fallbacks are tried in order (see step-targets.ts); then the step has failed,
 * and the flow fails with it unless the step is `optional`.
 */
export function planNextSteps(flow: CompiledFlow, records: readonly StepRecord[], inputs: RunInputs): PlanDecision {
  const state = createRunState(flow, records, inputs);
  const decision: PlanDecision = { dispatch: [], skip: [], fail: [], cancel: [], outcome: null };
  const record = (r: StepRecord): void => void state.records.set(instanceKey(r.stepId, r.iteration), r);

  // Skips and condition failures can unblock later steps, so repeat until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    const loop = loopProgress(state);
    for (const step of flow.steps) {
      const iteration = candidateIteration(step, loop);
      if (iteration === null) continue;
      const current = getRecord(state, step.id, iteration);
      if (current) {
        const retry = current.status === "failed" ? nextAttempt(step, current) : null;
        if (retry) {
          decision.dispatch.push({
            stepId: step.id,
            iteration,
            attempt: retry.attempt,
            delayMs: retry.delayMs,
            checkHookCondition: step.condition?.kind === "hook",
          });
          record({ stepId: step.id, iteration, attempt: retry.attempt, status: "pending" });
        }
        continue;
      }
      if (!dependenciesDone(state, step, iteration)) continue;
      changed = true;
      const verdict = checkCondition(state, step, iteration);
      if (verdict.kind === "skip") {
        decision.skip.push({ stepId: step.id, iteration, reason: verdict.reason });
        record({ stepId: step.id, iteration, attempt: 0, status: "skipped" });
      } else if (verdict.kind === "error") {
        decision.fail.push({ stepId: step.id, iteration, error: verdict.error });
        record({ stepId: step.id, iteration, attempt: 0, status: "failed", error: verdict.error });
      } else {
        decision.dispatch.push({
          stepId: step.id,
          iteration,
          attempt: 0,
          delayMs: 0,
          checkHookCondition: verdict.kind === "hook",
        });
        record({ stepId: step.id, iteration, attempt: 0, status: "pending" });
      }
    }
  }

  const failure = firstFailure(state);
  const loop = loopProgress(state);
  if (failure || loop.kind === "error") {
    const failed = failure ?? {
      stepId: flow.loop?.checkAfter ?? "",
      iteration: loop.kind === "error" ? loop.iteration : 0,
      error: { code: "condition_error", message: loop.kind === "error" ? loop.message : "", retryable: false },
    };
    return failRun(state, records, decision, failed);
  }
  const busy = [...state.records.values()].some(isInFlight);
  // A spent budget stops further work; a run whose last step just finished still completes.
  const overBudget = busy ? (budgetExceeded(flow.definition.budget, inputs.spent) ?? inputs.spendCapReached) : null;
  if (overBudget) return failRun(state, records, decision, { stepId: "", iteration: 0, error: overBudget });
  if (busy) return decision;
  // Nothing runs and nothing can start: the run is complete. Steps never reached are skipped.
  for (const step of flow.steps) {
    if (![...state.records.values()].some((r) => r.stepId === step.id)) {
      decision.skip.push({ stepId: step.id, iteration: step.inLoop ? 1 : 0, reason: "not reached" });
    }
  }
  decision.outcome = { status: "completed", finalOutput: finalOutput(state) };
  return decision;
}

/** Which iteration of a step may run now; null when the step has none (its loop ended or has not begun). */
function candidateIteration(step: CompiledStep, loop: LoopProgress): number | null {
  if (!step.inLoop) return 0;
  return loop.kind === "running" ? loop.iteration : null;
}

function canRetry(step: CompiledStep, current: StepRecord): boolean {
  return nextAttempt(step, current) !== null;
}

function dependenciesDone(state: ReturnType<typeof createRunState>, step: CompiledStep, iteration: number): boolean {
  for (const dep of instanceDependencies(state, step.id, iteration)) {
    const depStep = state.flow.byId.get(dep.stepId) as CompiledStep;
    // A step after the loop waits for the whole loop, not one iteration of it.
    if (depStep.inLoop && !step.inLoop) {
      if (loopProgress(state).kind !== "ended") return false;
      continue;
    }
    const depRecord = getRecord(state, dep.stepId, dep.iteration);
    if (!depRecord) return false;
    const ok =
      DONE_OK.has(depRecord.status) ||
      (depRecord.status === "failed" && depStep.optional && !canRetry(depStep, depRecord));
    if (!ok) return false;
  }
  return true;
}

type ConditionVerdict =
  { kind: "run" } | { kind: "hook" } | { kind: "skip"; reason: string } | { kind: "error"; error: StepError };

function checkCondition(
  state: ReturnType<typeof createRunState>,
  step: CompiledStep,
  iteration: number,
): ConditionVerdict {
  const condition = step.condition;
  if (!condition) return { kind: "run" };
  if (condition.kind === "hook") return { kind: "hook" };
  try {
    return condition.condition.evaluate(conditionVariables(state, step.id, iteration), state.conditionBudget)
      ? { kind: "run" }
      : { kind: "skip", reason: `condition is false: ${condition.condition.source}` };
  } catch (error) {
    const message = error instanceof ConditionEvaluationError ? error.message : String(error);
    return { kind: "error", error: { code: "condition_error", message, retryable: false } };
  }
}

/** The first (in definition order) step instance that failed for good and is not optional. */
function firstFailure(state: ReturnType<typeof createRunState>): StepFailure | null {
  for (const step of state.flow.steps) {
    for (const r of state.records.values()) {
      if (r.stepId !== step.id) continue;
      const failedForGood = (r.status === "failed" && !canRetry(step, r)) || r.status === "cancelled";
      if (failedForGood && !step.optional) {
        return {
          stepId: r.stepId,
          iteration: r.iteration,
          error: r.error ?? { code: r.status, message: `step ${r.stepId} ${r.status}` },
        };
      }
    }
  }
  return null;
}

function failRun(
  state: ReturnType<typeof createRunState>,
  records: readonly StepRecord[],
  decision: PlanDecision,
  failure: StepFailure,
): PlanDecision {
  const cancel: StepCancel[] = records
    .filter((r) => isInFlight(r))
    .map((r) => ({ stepId: r.stepId, iteration: r.iteration, inFlight: true }));
  const loop = loopProgress(state);
  const loopIteration = loop.kind === "none" ? 1 : loop.iteration;
  for (const step of state.flow.steps) {
    const everRecorded =
      records.some((r) => r.stepId === step.id) ||
      [...state.records.values()].some((r) => r.stepId === step.id && !isPlannedNow(decision, r));
    if (!everRecorded) cancel.push({ stepId: step.id, iteration: step.inLoop ? loopIteration : 0, inFlight: false });
  }
  return {
    dispatch: [],
    skip: decision.skip,
    fail: decision.fail,
    cancel,
    outcome: { status: "failed", stepId: failure.stepId, iteration: failure.iteration, error: failure.error },
  };
}

/** A pending record this very decision created (a dispatch we are now dropping). */
function isPlannedNow(decision: PlanDecision, r: StepRecord): boolean {
  return (
    r.status === "pending" &&
    decision.dispatch.some((d) => d.stepId === r.stepId && d.iteration === r.iteration && d.attempt === r.attempt)
  );
}
