import {
  isoOrNull,
  isTerminalFlowStatus,
  type FlowExecutionResult,
  type FlowStepResult,
  type StepRecord,
} from "@ensemble/core";
import type { FlowRow, StepResultRow } from "@ensemble/db";
import type { EndedRun } from "./run-effects.js";

/** A stored step instance as the planner sees it. */
export function toStepRecord(row: StepResultRow): StepRecord {
  return {
    stepId: row.stepId,
    iteration: row.iteration,
    attempt: row.attempt,
    status: row.status,
    output: row.output,
    ...(row.error ? { error: row.error } : {}),
    ...(row.provider ? { provider: row.provider } : {}),
  };
}

export function toFlowStepResult(row: StepResultRow): FlowStepResult {
  return {
    stepId: row.stepId,
    status: row.status,
    output: row.output,
    provider: row.provider,
    model: row.model,
    action: row.action,
    iteration: row.iteration,
    usage: row.usage ?? null,
    cost: row.cost,
    retryCount: row.attempt,
    startedAt: isoOrNull(row.startedAt),
    completedAt: isoOrNull(row.completedAt),
    ...(row.reusedFrom !== null ? { reusedFrom: row.reusedFrom } : {}),
    ...(row.error
      ? {
          error: {
            code: row.error.code,
            message: row.error.message,
            ...(row.error.retryable !== undefined ? { retryable: row.error.retryable } : {}),
          },
        }
      : {}),
  };
}

export function sortRows(rows: StepResultRow[]): StepResultRow[] {
  return [...rows].sort((a, b) => a.iteration - b.iteration || a.stepIndex - b.stepIndex);
}

/** The FlowExecutionResult of a run from its rows. */
export function buildExecutionResult(
  flow: FlowRow,
  rows: StepResultRow[],
  finalOutput: string | null,
): FlowExecutionResult {
  const steps = sortRows(rows).map(toFlowStepResult);
  return {
    flowId: flow.id,
    status: flow.status,
    finalOutput,
    steps,
    totalCost: roundUsd(steps.reduce((sum, s) => sum + (s.cost ?? 0), 0)),
    totalTokens: steps.reduce((sum, s) => sum + (s.usage?.totalTokens ?? 0), 0),
    startedAt: isoOrNull(flow.startedAt),
    completedAt: isoOrNull(flow.completedAt),
    ...(flow.error ? { error: flow.error } : {}),
  };
}

/** What the span of a run that has just ended says (exported after the end commits). */
export function endedRun(
  flow: FlowRow,
  status: string,
  endedAt: Date,
  error: { code: string; message: string } | null,
  result?: FlowExecutionResult,
): EndedRun {
  return {
    trace: flow.trace,
    flowType: flow.flowType,
    flowId: flow.id,
    run: flow.run,
    name: flow.name,
    status,
    startedAt: flow.startedAt ?? flow.queuedAt ?? endedAt,
    endedAt,
    ...(result ? { costUsd: result.totalCost, totalTokens: result.totalTokens } : {}),
    error,
  };
}

/**
 * What a running run has spent: its instances' spend (every billed attempt, retries included)
 * plus its calls cut off by lost leases, which until the run ends are the flow row's totals
 * (see flows.total_cost).
 */
export function runSpend(
  flow: Pick<FlowRow, "totalCost" | "totalTokens">,
  rows: readonly Pick<StepResultRow, "spentCost" | "spentTokens">[],
): {
  costUsd: number;
  tokens: number;
} {
  let costUsd = flow.totalCost;
  let tokens = flow.totalTokens;
  for (const row of rows) {
    costUsd += row.spentCost;
    tokens += row.spentTokens;
  }
  return { costUsd, tokens };
}

/**
 * A flow's totals as the API shows them: an ended run's from the flow row (written when it
 * ends); a running run's from its instances when they were read, with its cut-off calls.
 */
export function flowTotals(
  flow: FlowRow,
  rows?: readonly Pick<StepResultRow, "spentCost" | "spentTokens">[],
): { totalCost: number; totalTokens: number } {
  if (!rows || isTerminalFlowStatus(flow.status))
    return { totalCost: roundUsd(flow.totalCost), totalTokens: flow.totalTokens };
  const spent = runSpend(flow, rows);
  return { totalCost: roundUsd(spent.costUsd), totalTokens: spent.tokens };
}

export function roundUsd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}

export interface FlowStatusSummary {
  flowId: string;
  status: string;
  progress: number;
  currentStepIndex: number;
  totalSteps: number;
  completedSteps: number;
  failedSteps: number;
  startedAt: string | null;
  completedAt: string | null;
  totalCost: number;
  totalTokens: number;
}

/** GET /status: progress counts step instances that reached an end, over the steps the run has. */
export function summarizeFlowStatus(
  flow: FlowRow,
  rows: readonly Pick<StepResultRow, "status" | "spentCost" | "spentTokens">[],
  definitionStepCount: number,
): FlowStatusSummary {
  const terminal = rows.filter((r) => ["success", "failed", "skipped", "cancelled"].includes(r.status));
  const totalSteps = Math.max(definitionStepCount, rows.length);
  const finished = ["completed", "failed", "cancelled", "timed_out"].includes(flow.status);
  return {
    flowId: flow.id,
    status: flow.status,
    progress: finished ? 100 : totalSteps === 0 ? 0 : Math.round((terminal.length / totalSteps) * 1000) / 10,
    currentStepIndex: flow.currentStepIndex,
    totalSteps,
    completedSteps: rows.filter((r) => r.status === "success").length,
    failedSteps: rows.filter((r) => r.status === "failed").length,
    startedAt: isoOrNull(flow.startedAt),
    completedAt: isoOrNull(flow.completedAt),
    ...flowTotals(flow, rows),
  };
}
