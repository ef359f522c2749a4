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
  type RunEnd,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import type { EffectEvent } from "./event-outbox.js";
import { addPlanEffects, planAdvance, type AdvancePlan, type PlanAdvanceOptions } from "./plan-advance.js";
import { buildExecutionResult, endedRun } from "./records.js";
import type { EndedRun, RunEffects } from "./run-effects.js";

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
  const { decision, inserts } = plan;
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
  // The run's rows as they will be: the locked ones plus the new instances (written with
  // the same times). Changes to recorded instances are read back instead.
  let finalRows: StepResultRow[];
  let planned: Promise<unknown> | null = null;
  if (plan.instanceWrites.length === 0) {
    finalRows = rowsAfterPlan(flow, rows, inserts);
    planned = sendPlannedSteps(tx, flow.id, flow.run, inserts);
  } else {
    await sendPlannedSteps(tx, flow.id, flow.run, inserts);
    finalRows = await listRunSteps(tx, flow.id, flow.run);
  }
  const ending = planRunEnd(flow, compiled, plan, finalRows, options.startedAt);
  // The transaction's last writes: COMMIT goes out with them.
  const end = sendRunEnded(tx, flow.id, ending.end);
  options.control.commitAfter(...(planned ? [planned, end] : [end]));
  addRunEndEffects(effects, ending);
  return decision;
}

/** What a run's end records on the flow row and announces once committed. */
export interface RunEnding {
  end: RunEnd;
  event: EffectEvent;
  ended: EndedRun;
}

/**
 * The end of a run, from the plan that ends it (`decision.outcome`) and the run's instances
 * as they will be once the plan is written (`finalRows`). Pure.
 */
export function planRunEnd(
  flow: FlowRow,
  compiled: CompiledFlow,
  plan: AdvancePlan,
  finalRows: StepResultRow[],
  startedAt?: Date,
): RunEnding {
  const { decision, currentStepIndex, now } = plan;
  const outcome = decision.outcome;
  if (!outcome) throw new Error("planRunEnd: the plan does not end the run");
  const status = outcome.status;
  const error: (StepError & { stepId?: string }) | null =
    outcome.status === "failed"
      ? {
          code: outcome.error.code,
          message: outcome.error.message,
          ...(outcome.stepId ? { stepId: outcome.stepId } : {}),
        }
      : null;
  const ended: FlowRow = {
    ...flow,
    status,
    ...(startedAt ? { startedAt } : {}),
    completedAt: now,
    error,
    currentStepIndex:
      outcome.status === "failed" ? (compiled.byId.get(outcome.stepId)?.index ?? currentStepIndex) : currentStepIndex,
  };
  const result = buildExecutionResult(ended, finalRows, outcome.status === "completed" ? outcome.finalOutput : null);
  const event: EffectEvent =
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
        };
  return {
    end: {
      status,
      ...(startedAt ? { startedAt } : {}),
      completedAt: now,
      error,
      currentStepIndex: ended.currentStepIndex,
      result,
    },
    event,
    ended: endedRun(ended, status, now, error, result),
  };
}

/** Adds what a run's end announces to the effects of the transaction that commits it. */
export function addRunEndEffects(effects: RunEffects, { event, ended }: RunEnding): void {
  effects.events.push(event);
  effects.archiveFlows.push(ended.flowId);
  effects.endedRuns.push(ended);
}

/** The run's instances once a plan's new instances are inserted (no recorded instance changed). */
export function rowsAfterPlan(
  flow: FlowRow,
  rows: readonly StepResultRow[],
  inserts: readonly PlannedStep[],
): StepResultRow[] {
  return [...rows, ...inserts.map((step) => plannedRow(flow, step))];
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
