import type { CompiledFlow, PlanDecision, StepError } from "@ensemble/core";
import {
  listRunSteps,
  requeueStepAttempt,
  sendPlannedSteps,
  sendRunEnded,
  setStepStatus,
  type Executor,
  type FlowRow,
  type PlannedStep,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import { addPlanEffects, planAdvance, type PlanAdvanceOptions } from "./plan-advance.js";
import { buildExecutionResult, endedRun } from "./records.js";
import type { RunEffects } from "./run-effects.js";

export interface AdvanceOptions extends PlanAdvanceOptions {
  /** The caller's transaction: the planned steps are its last write and travel with COMMIT. */
  control: TransactionControl;
}

/**
 * Asks the planner what comes next for a run and records it, inside the caller's
 * transaction (which holds the flow's row lock). Jobs and events go into `effects`,
 * performed after commit.
 */
export async function advanceRun(
  tx: Executor,
  flow: FlowRow,
  compiled: CompiledFlow,
  rows: StepResultRow[],
  effects: RunEffects,
  options: AdvanceOptions,
): Promise<PlanDecision> {
  const plan = planAdvance(flow, compiled, rows, options);
  const { decision, inserts, currentStepIndex, now } = plan;
  addPlanEffects(effects, plan);
  // Retries and cancels of recorded instances (the rarer case) are written first.
  await Promise.all(
    plan.instanceWrites.map((w) =>
      w.kind === "requeue"
        ? requeueStepAttempt(tx, w.id, w.attempt, w.notBefore)
        : setStepStatus(tx, w.id, "cancelled"),
    ),
  );
  const outcome = decision.outcome;
  if (!outcome) {
    // The transaction's last write: COMMIT goes out with it.
    options.control.commitAfter(sendPlannedSteps(tx, flow.id, flow.run, inserts, plan.progress));
    return decision;
  }
  const status = outcome.status;
  const error: (StepError & { stepId?: string }) | null =
    outcome.status === "failed"
      ? {
          code: outcome.error.code,
          message: outcome.error.message,
          ...(outcome.stepId ? { stepId: outcome.stepId } : {}),
        }
      : null;
  // The run's rows as they will be: the locked ones plus the new instances (written with
  // the same times). Changes to recorded instances are read back instead.
  let finalRows: StepResultRow[];
  let planned: Promise<unknown> | null = null;
  if (plan.instanceWrites.length === 0) {
    finalRows = [...rows, ...inserts.map((step) => plannedRow(flow, step))];
    planned = sendPlannedSteps(tx, flow.id, flow.run, inserts);
  } else {
    await sendPlannedSteps(tx, flow.id, flow.run, inserts);
    finalRows = await listRunSteps(tx, flow.id, flow.run);
  }
  const ended: FlowRow = {
    ...flow,
    status,
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
    completedAt: now,
    error,
    currentStepIndex:
      outcome.status === "failed" ? (compiled.byId.get(outcome.stepId)?.index ?? currentStepIndex) : currentStepIndex,
  };
  const result = buildExecutionResult(ended, finalRows, outcome.status === "completed" ? outcome.finalOutput : null);
  // The transaction's last writes: COMMIT goes out with them.
  const end = sendRunEnded(tx, flow.id, {
    status,
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
    completedAt: now,
    error,
    currentStepIndex: ended.currentStepIndex,
    result,
  });
  options.control.commitAfter(...(planned ? [planned, end] : [end]));
  effects.events.push(
    outcome.status === "completed"
      ? {
          flowId: flow.id,
          type: "flow_complete",
          data: {
            status: outcome.status,
            finalOutput: result.finalOutput,
            totalCost: result.totalCost,
            totalTokens: result.totalTokens,
          },
        }
      : {
          flowId: flow.id,
          type: "flow_failed",
          ...(outcome.stepId ? { stepId: outcome.stepId } : {}),
          data: { status: outcome.status, error },
        },
  );
  effects.archiveFlows.push(flow.id);
  effects.endedRuns.push(endedRun(ended, status, now, error, result));
  return decision;
}

/** A new instance as its row will read once written (ids are not needed for a result). */
function plannedRow(flow: FlowRow, step: PlannedStep): StepResultRow {
  return {
    id: "",
    flowId: flow.id,
    run: flow.run,
    stepId: step.stepId,
    stepIndex: step.stepIndex,
    iteration: step.iteration,
    attempt: 0,
    status: step.status,
    output: null,
    provider: step.provider,
    model: step.model,
    action: step.action,
    usage: null,
    cost: null,
    spentTokens: 0,
    spentCost: 0,
    error: step.error ?? null,
    leaseToken: 0,
    leaseOwner: null,
    leaseExpiresAt: null,
    messageId: null,
    reusedFrom: null,
    notBefore: null,
    approvalPrompt: step.wait?.prompt ?? null,
    expiresAt: step.wait?.expiresAt ?? null,
    batchId: null,
    batchRequest: null,
    batchedAt: null,
    batchDeadlineAt: null,
    batchFallback: null,
    createdAt: step.completedAt ?? new Date(),
    startedAt: null,
    completedAt: step.completedAt ?? null,
  };
}
