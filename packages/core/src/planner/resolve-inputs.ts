import type { ConditionVariables } from "../condition/condition-expression.js";
import type { CompiledStep } from "../validation/compiled-flow.js";
import { approvalDecisionOf } from "./approval.js";
import {
  getRecord,
  latestIteration,
  latestSuccess,
  type InstanceKey,
  type RunState,
  type StepRecord,
} from "./step-record.js";

/**
 * What a step instance reads from its run: `previous`, `all`, a step's output,
 * the refinement draft. Shared by the planner (conditions) and the prompt builder.
 */

function stepOf(state: RunState, stepId: string): CompiledStep {
  const step = state.flow.byId.get(stepId);
  if (!step) throw new Error(`unknown step ${stepId}`);
  return step;
}

/** The instances an instance waits for. Inside the loop a step reads its own iteration; after it, the latest. */
export function instanceDependencies(state: RunState, stepId: string, iteration: number): InstanceKey[] {
  const step = stepOf(state, stepId);
  const loop = state.flow.loop;
  const deps: InstanceKey[] = step.dependsOn.map((dep) => {
    const depInLoop = stepOf(state, dep).inLoop;
    if (!depInLoop) return { stepId: dep, iteration: 0 };
    return { stepId: dep, iteration: step.inLoop ? iteration : Math.max(latestIteration(state, dep), 1) };
  });
  if (loop && step.inLoop && iteration > 1 && loop.stepIds[0] === stepId) {
    deps.push({ stepId: loop.stepIds[loop.stepIds.length - 1] as string, iteration: iteration - 1 });
  }
  return deps;
}

function newerFirst(state: RunState) {
  return (a: InstanceKey, b: InstanceKey): number =>
    b.iteration - a.iteration || stepOf(state, b.stepId).index - stepOf(state, a.stepId).index;
}

/** The most recent successful instance upstream of an instance, or null (the first step reads the original prompt). */
export function previousSource(state: RunState, stepId: string, iteration: number): StepRecord | null {
  const frontier = instanceDependencies(state, stepId, iteration);
  const seen = new Set<string>();
  while (frontier.length) {
    frontier.sort(newerFirst(state));
    const next = frontier.shift() as InstanceKey;
    const key = `${next.stepId}#${next.iteration}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const record = getRecord(state, next.stepId, next.iteration);
    if (record?.status === "success") return record;
    frontier.push(...instanceDependencies(state, next.stepId, next.iteration));
  }
  return null;
}

/** The most recent successful output upstream of an instance; the original prompt when there is none. */
export function previousOutput(state: RunState, stepId: string, iteration: number): string {
  const source = previousSource(state, stepId, iteration);
  return source ? (source.output ?? "") : state.originalPrompt;
}

/** Successful upstream outputs of an instance (latest iteration of each step), oldest first. */
export function upstreamOutputs(state: RunState, stepId: string, iteration: number): StepRecord[] {
  const found = new Map<string, StepRecord>();
  const pending = instanceDependencies(state, stepId, iteration);
  const seen = new Set<string>();
  while (pending.length) {
    const next = pending.pop() as InstanceKey;
    const key = `${next.stepId}#${next.iteration}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const record = getRecord(state, next.stepId, next.iteration);
    const known = found.get(next.stepId);
    if (record?.status === "success" && (!known || known.iteration < record.iteration)) found.set(next.stepId, record);
    pending.push(...instanceDependencies(state, next.stepId, next.iteration));
  }
  return [...found.values()].sort((a, b) => -newerFirst(state)(a, b));
}

export function labelOutput(state: RunState, record: StepRecord): string {
  const step = stepOf(state, record.stepId);
  const round = record.iteration > 0 ? `, iteration ${record.iteration}` : "";
  const target = step.targets[0];
  const source = target ? `${target.provider}/${target.model}` : "approval";
  return `### ${step.id} (${source}${round})\n${record.output ?? ""}`;
}

export function labelOutputs(state: RunState, records: readonly StepRecord[]): string {
  return records.map((record) => labelOutput(state, record)).join("\n\n");
}

/** The record holding the current draft of a loop: the latest success among `draftFrom`. */
export function currentDraftRecord(state: RunState): StepRecord | null {
  const loop = state.flow.loop;
  if (!loop) return null;
  const candidates = loop.draftFrom.flatMap((id) => latestSuccess(state, id) ?? []);
  candidates.sort(newerFirst(state));
  return candidates[0] ?? null;
}

export function currentDraft(state: RunState): string {
  return currentDraftRecord(state)?.output ?? "";
}

/** Orders records oldest first: by iteration, then definition order. */
export function recordAge(state: RunState, record: StepRecord): number {
  return record.iteration * 1_000 + stepOf(state, record.stepId).index;
}

/** What a step reads as its input, chosen by `inputFrom`. */
export function stepInput(state: RunState, stepId: string, iteration: number): string {
  const inputFrom = stepOf(state, stepId).inputFrom;
  switch (inputFrom) {
    case "previous":
      return previousOutput(state, stepId, iteration);
    case "original":
      return state.originalPrompt;
    case "all":
      return labelOutputs(state, upstreamOutputs(state, stepId, iteration));
    default:
      return latestSuccess(state, inputFrom)?.output ?? "";
  }
}

/** The variables a CEL condition of this instance sees; `previous` is the step's input. */
export function conditionVariables(state: RunState, stepId: string, iteration: number): ConditionVariables {
  const steps: ConditionVariables["steps"] = {};
  for (const step of state.flow.steps) {
    const record =
      latestSuccess(state, step.id) ?? getRecord(state, step.id, Math.max(latestIteration(state, step.id), 0));
    steps[step.id] = {
      output: record?.status === "success" ? (record.output ?? "") : "",
      status: record?.status ?? "pending",
      decision: step.approval && record ? approvalDecisionOf(record.output) : "",
    };
  }
  return {
    previous: stepInput(state, stepId, iteration),
    original: state.originalPrompt,
    draft: currentDraft(state),
    steps,
    metadata: state.metadata,
    iteration,
  };
}
