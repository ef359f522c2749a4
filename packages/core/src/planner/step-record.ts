import { ConditionTimeBudget } from "../condition/condition-time-budget.js";
import type { RunSpend } from "./budget.js";
import type { StepError } from "../schema/results.js";
import type { CompiledFlow } from "../validation/compiled-flow.js";

/** What the planner knows of one step instance: (step, iteration), at its latest attempt. */
export interface StepRecord {
  stepId: string;
  /** 0 outside a loop; 1, 2, … inside. */
  iteration: number;
  /** 0-based attempt number of the latest attempt. */
  attempt: number;
  status: StepRecordStatus;
  output?: string | null;
  error?: StepError & { retryAfterMs?: number };
  /** The provider that produced `output` (a fallback's when one answered); default: the step's. */
  provider?: string;
}

/** `pending` = dispatched, not yet picked up; `running` = a worker holds it. */
/** `waiting` = an approval step waiting for its decision; `batched` = a step in a provider batch. */
export type StepRecordStatus =
  "pending" | "running" | "waiting" | "batched" | "success" | "failed" | "skipped" | "cancelled";

export interface InstanceKey {
  stepId: string;
  iteration: number;
}

export function instanceKey(stepId: string, iteration: number): string {
  return `${stepId}#${iteration}`;
}

export function isInFlight(record: StepRecord | undefined): boolean {
  return (
    record?.status === "pending" ||
    record?.status === "running" ||
    record?.status === "waiting" ||
    record?.status === "batched"
  );
}

/** The run as the planner sees it: the compiled flow, its inputs, and one record per step instance. */
export interface RunState {
  flow: CompiledFlow;
  originalPrompt: string;
  metadata: Record<string, unknown>;
  records: Map<string, StepRecord>;
  /** Shared by the conditions evaluated while planning from this state. */
  conditionBudget: ConditionTimeBudget;
}

export interface RunInputs {
  originalPrompt: string;
  metadata?: Record<string, unknown>;
  /** What the run has spent so far, checked against the flow's budget. */
  spent?: RunSpend;
  /** Set when the executing user's spend cap is reached: the run stops as a spent budget stops it. */
  spendCapReached?: StepError;
}

export function createRunState(flow: CompiledFlow, records: readonly StepRecord[], inputs: RunInputs): RunState {
  const map = new Map<string, StepRecord>();
  for (const record of records) {
    const key = instanceKey(record.stepId, record.iteration);
    const existing = map.get(key);
    if (!existing || existing.attempt <= record.attempt) map.set(key, record);
  }
  return {
    flow,
    originalPrompt: inputs.originalPrompt,
    metadata: inputs.metadata ?? {},
    records: map,
    conditionBudget: new ConditionTimeBudget(),
  };
}

export function getRecord(state: RunState, stepId: string, iteration: number): StepRecord | undefined {
  return state.records.get(instanceKey(stepId, iteration));
}

/** The highest iteration recorded for a step, or -1. */
export function latestIteration(state: RunState, stepId: string): number {
  let latest = -1;
  for (const record of state.records.values()) {
    if (record.stepId === stepId && record.iteration > latest) latest = record.iteration;
  }
  return latest;
}

/** The output of the latest successful instance of a step, if any. */
export function latestSuccess(state: RunState, stepId: string): StepRecord | undefined {
  let best: StepRecord | undefined;
  for (const record of state.records.values()) {
    if (record.stepId === stepId && record.status === "success" && (!best || record.iteration > best.iteration))
      best = record;
  }
  return best;
}
