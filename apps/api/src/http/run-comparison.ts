import type { FlowRunRow, StepResultRow } from "@ensemble/db";
import { diffWords } from "diff";
import type { RunComparisonResponse } from "@ensemble/core";
import type { Shape } from "./serialize.js";

/** What one run did at one step instance, side by side with the other run. */
type ComparedStep = NonNullable<Shape<typeof RunComparisonResponse>["steps"][number]["results"][number]>;

export interface ComparedRun {
  run: FlowRunRow;
  steps: StepResultRow[];
}

const elapsed = (from: Date | null, to: Date | null): number | null =>
  from && to ? to.getTime() - from.getTime() : null;

function compared(row: StepResultRow | undefined): ComparedStep | null {
  if (!row) return null;
  return {
    status: row.status,
    provider: row.provider,
    model: row.model,
    output: row.output,
    tokens: row.usage?.totalTokens ?? 0,
    cost: row.cost,
    latencyMs: elapsed(row.startedAt, row.completedAt),
    reusedFrom: row.reusedFrom,
  };
}

/**
 * Two runs of a flow step by step: each step instance's result in both, with a word-level
 * diff of the outputs (the `diff` library's diffWords: the unchanged and removed pieces
 * joined give the first output, the unchanged and added ones the second), then each run's totals.
 */
export function compareRuns(flowId: string, a: ComparedRun, b: ComparedRun): Shape<typeof RunComparisonResponse> {
  const key = (r: StepResultRow) => `${r.stepId}#${r.iteration}`;
  const byKey = [new Map(a.steps.map((r) => [key(r), r])), new Map(b.steps.map((r) => [key(r), r]))] as const;
  // Every instance either run has, in run order (iteration, then step).
  const instances = new Map<string, StepResultRow>();
  for (const row of [...a.steps, ...b.steps]) if (!instances.has(key(row))) instances.set(key(row), row);
  const ordered = [...instances.values()].sort((x, y) => x.iteration - y.iteration || x.stepIndex - y.stepIndex);
  return {
    flowId,
    runs: [a.run.run, b.run.run],
    steps: ordered.map((instance) => {
      const [left, right] = [byKey[0].get(key(instance)), byKey[1].get(key(instance))];
      return {
        stepId: instance.stepId,
        iteration: instance.iteration,
        results: [compared(left), compared(right)],
        diff: diffWords(left?.output ?? "", right?.output ?? "").map((change) => ({
          kind: change.added ? "added" : change.removed ? "removed" : "same",
          text: change.value,
        })),
      };
    }),
    totals: [a, b].map(({ run }) => ({
      run: run.run,
      status: run.status,
      totalCost: run.totalCost,
      totalTokens: run.totalTokens,
      latencyMs: elapsed(run.startedAt, run.completedAt),
    })),
  };
}
