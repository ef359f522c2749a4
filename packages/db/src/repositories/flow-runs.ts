import { and, asc, eq, getTableColumns } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flowRuns } from "../schema/tables.js";
import type { FlowRow } from "./flows.js";
import { sendStatement } from "./statements.js";

/** One run of a flow: an ended one from `flow_runs`, or the current one as the flow row holds it. */
export type FlowRunRow = typeof flowRuns.$inferSelect;

/** The flow's current run in the shape of a run history row (null before its first run). */
export function currentRun(flow: FlowRow): FlowRunRow | null {
  if (flow.run === 0) return null;
  return {
    flowId: flow.id,
    run: flow.run,
    status: flow.status,
    definition: flow.runDefinition ?? flow.definition,
    executedBy: flow.executedBy,
    onlyStepId: flow.onlyStepId,
    input: flow.input,
    rerunOf: flow.rerunOf,
    rerunFromStep: flow.rerunFromStep,
    totalCost: flow.totalCost,
    totalTokens: flow.totalTokens,
    result: flow.result,
    error: flow.error,
    queuedAt: flow.queuedAt,
    startedAt: flow.startedAt,
    completedAt: flow.completedAt,
  };
}

/**
 * Sends, without waiting, the copy of the flow's current run into its history; it must go
 * before the statement that replaces the run (`sendQueuedRun`) in the same transaction.
 */
export function sendArchivedRun(tx: Executor, flowId: string): Promise<unknown> {
  return sendStatement(
    tx,
    `insert into flow_runs (flow_id, run, status, definition, executed_by, only_step_id, input, rerun_of, rerun_from_step,
       total_cost, total_tokens, result, error, queued_at, started_at, completed_at)
     select id, run, status, coalesce(run_definition, definition), executed_by, only_step_id, input, rerun_of, rerun_from_step,
       total_cost, total_tokens, result, error, queued_at, started_at, completed_at
     from flows where id = $1 and run > 0
     on conflict (flow_id, run) do nothing`,
    [flowId],
  );
}

/** Removes a run from the history: it is the flow's current run again (a new run was taken back). */
export async function unarchiveRun(db: Executor, flowId: string, run: number): Promise<void> {
  await db.delete(flowRuns).where(and(eq(flowRuns.flowId, flowId), eq(flowRuns.run, run)));
}

/** A run without what can be large (its definition, input and result): what a list of runs shows. */
export type FlowRunSummary = Omit<FlowRunRow, "definition" | "input" | "result">;

const { definition: _definition, input: _input, result: _result, ...summaryColumns } = getTableColumns(flowRuns);

/** Every run of a flow, oldest first: its history, then the current run. Reads no outputs. */
export async function listFlowRuns(db: Executor, flow: FlowRow): Promise<FlowRunSummary[]> {
  const ended = await db
    .select(summaryColumns)
    .from(flowRuns)
    .where(eq(flowRuns.flowId, flow.id))
    .orderBy(asc(flowRuns.run));
  const current = currentRun(flow);
  return current ? [...ended.filter((r) => r.run < current.run), current] : ended;
}

/** One run of a flow; undefined when it has no such run. */
export async function findFlowRun(db: Executor, flow: FlowRow, run: number): Promise<FlowRunRow | undefined> {
  if (run === flow.run) return currentRun(flow) ?? undefined;
  if (run < 1 || run > flow.run) return undefined;
  const [row] = await db
    .select()
    .from(flowRuns)
    .where(and(eq(flowRuns.flowId, flow.id), eq(flowRuns.run, run)));
  return row;
}
