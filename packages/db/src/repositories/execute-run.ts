import type { RunPriority } from "@ensemble/core";
import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import type { FlowRow } from "./flows.js";
import { dataSharingPolicies, flows, stepResults, type RunTraceColumn } from "../schema/tables.js";
import { fromJsonRow, fromJsonRows } from "./json-rows.js";
import { unarchiveRun } from "./flow-runs.js";
import { sendStatement } from "./statements.js";
import { runPoliciesSql, type PolicyRow } from "./threads.js";

/*
 * The statements of `execute` (a new run of a flow), hand-written and sent prepared:
 * lock and read in one write, the new run and COMMIT in the next.
 */

export interface FlowToExecute {
  /** The flow, locked until the transaction ends. */
  flow: FlowRow;
  /** The data-sharing policies of its thread's owner and of the executing user (see `strictestRules`). */
  policies: PolicyRow[];
  /** The highest event id archived for the flow (0: none): this run's events are numbered after it. */
  lastArchivedEventId: number;
}

/**
 * Locks a flow and reads what executing it as `executorId` needs, in one round trip.
 * Undefined when there is no such flow.
 */
export async function lockFlowToExecute(
  tx: Executor,
  flowId: string,
  executorId: string,
): Promise<FlowToExecute | undefined> {
  const [[locked], [read]] = await Promise.all([
    sendStatement<{ flow: Record<string, unknown> }>(
      tx,
      `select row_to_json(f) as flow from flows f where f.id = $1 for update`,
      [flowId],
    ),
    sendStatement<{ policies: Record<string, unknown>[]; last: number | string | null }>(
      tx,
      `select
        ${runPoliciesSql("$1", "$2")} as policies,
        (select max(e.seq) from flow_events e where e.flow_id = $1) as last`,
      [flowId, executorId],
    ),
  ]);
  const flow = fromJsonRow(flows, locked?.flow);
  if (!flow) return undefined;
  return {
    flow,
    policies: fromJsonRows(dataSharingPolicies, read?.policies),
    lastArchivedEventId: Number(read?.last ?? 0),
  };
}

/** A new run of a flow, queued: what `execute` records. */
export interface QueuedRun {
  run: number;
  /** The user who executes it: their policies apply with the thread owner's, and their usage is billed to them. */
  executedBy: string;
  onlyStepId: string | null;
  input: string;
  metadata: Record<string, unknown>;
  saveMessages: boolean;
  stepTimeoutMs: number | null;
  deadlineAt: Date | null;
  queuedAt: Date;
  /** Its priority class: its step jobs inherit it. */
  priority: RunPriority;
  /** The run's place in its trace; null when tracing is off. */
  trace?: RunTraceColumn | null;
  /** A rerun: the run it reruns, the step it reruns from, and its definition when overrides changed it. */
  rerun?: { of: number; fromStep: string; definition: Record<string, unknown> | null } | null;
  /** Its own definition otherwise (an execute's batch delivery changed it). */
  definition?: Record<string, unknown> | null;
}

/**
 * Sends, without waiting, the flow row of a new queued run (its results, totals and times
 * of the last run cleared; send `sendArchivedRun` first to keep them). Inside `transact`,
 * hand the promise to `commitAfter`.
 */
export function sendQueuedRun(tx: Executor, flowId: string, run: QueuedRun): Promise<unknown> {
  return sendStatement(
    tx,
    `update flows set
      run = $2, executed_by = $10, only_step_id = $3, status = 'queued', input = $4, metadata = $5::jsonb, save_messages = $6,
      step_timeout_ms = $7, deadline_at = $8::timestamptz, queued_at = $9::timestamptz, trace = $11::jsonb,
      rerun_of = $12, rerun_from_step = $13, run_definition = $14::jsonb, priority = $15,
      started_at = null, completed_at = null, result = null, error = null, current_step_index = 0, total_cost = 0, total_tokens = 0
    where id = $1`,
    [
      flowId,
      run.run,
      run.onlyStepId,
      run.input,
      JSON.stringify(run.metadata),
      run.saveMessages,
      run.stepTimeoutMs,
      run.deadlineAt ? run.deadlineAt.toISOString() : null,
      run.queuedAt.toISOString(),
      run.executedBy,
      run.trace ? JSON.stringify(run.trace) : null,
      run.rerun?.of ?? null,
      run.rerun?.fromStep ?? null,
      run.rerun?.definition
        ? JSON.stringify(run.rerun.definition)
        : run.definition
          ? JSON.stringify(run.definition)
          : null,
      run.priority,
    ],
  );
}

/**
 * Takes back a run that `execute` recorded but could not enqueue: the flow row returns to
 * `previous` (as it was locked before the run), unless the run has moved on meanwhile (a
 * scheduler started it). True when it was taken back, so the run will not happen.
 */
export async function undoQueuedRun(db: Executor, previous: FlowRow, run: number): Promise<boolean> {
  const restored = await db
    .update(flows)
    .set({
      run: previous.run,
      executedBy: previous.executedBy,
      onlyStepId: previous.onlyStepId,
      priority: previous.priority,
      status: previous.status,
      input: previous.input,
      metadata: previous.metadata,
      saveMessages: previous.saveMessages,
      stepTimeoutMs: previous.stepTimeoutMs,
      deadlineAt: previous.deadlineAt,
      queuedAt: previous.queuedAt,
      startedAt: previous.startedAt,
      completedAt: previous.completedAt,
      result: previous.result,
      error: previous.error,
      currentStepIndex: previous.currentStepIndex,
      // From its archived copy: a call of it cut off by a lost lease since then was added there.
      totalCost: sql`coalesce((select fr.total_cost from flow_runs fr where fr.flow_id = ${previous.id} and fr.run = ${previous.run}), ${previous.totalCost})`,
      totalTokens: sql`coalesce((select fr.total_tokens from flow_runs fr where fr.flow_id = ${previous.id} and fr.run = ${previous.run}), ${previous.totalTokens})`,
      runDefinition: previous.runDefinition,
      rerunOf: previous.rerunOf,
      rerunFromStep: previous.rerunFromStep,
    })
    .where(and(eq(flows.id, previous.id), eq(flows.run, run), eq(flows.status, "queued")))
    .returning({ id: flows.id });
  if (restored.length === 0) return false;
  // Nothing of the run happened: a rerun's reused steps go, and the run it replaced is
  // current again, so it leaves the history it was copied into.
  await db.delete(stepResults).where(and(eq(stepResults.flowId, previous.id), eq(stepResults.run, run)));
  await unarchiveRun(db, previous.id, previous.run);
  return true;
}
