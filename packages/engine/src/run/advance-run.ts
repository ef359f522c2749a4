import type { CompiledFlow, PlanDecision, StepError } from "@ensemble/core";
import {
  listRunSteps,
  requeueStepAttempt,
  sendPlannedSteps,
  setStepStatus,
  updateFlow,
  type Executor,
  type FlowRow,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import { addPlanEffects, planAdvance, type PlanAdvanceOptions } from "./plan-advance.js";
import { buildExecutionResult } from "./records.js";
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
    plan.instanceWrites.map((w) => (w.kind === "requeue" ? requeueStepAttempt(tx, w.id, w.attempt, w.notBefore) : setStepStatus(tx, w.id, "cancelled"))),
  );
  const outcome = decision.outcome;
  if (!outcome) {
    // The transaction's last write: COMMIT goes out with it.
    options.control.commitAfter(sendPlannedSteps(tx, flow.id, flow.run, inserts, plan.progress));
    return decision;
  }
  await sendPlannedSteps(tx, flow.id, flow.run, inserts);
  const status = outcome.status;
  const error: StepError & { stepId?: string } | null =
    outcome.status === "failed" ? { code: outcome.error.code, message: outcome.error.message, ...(outcome.stepId ? { stepId: outcome.stepId } : {}) } : null;
  const finalRows = await listRunSteps(tx, flow.id, flow.run);
  const ended: FlowRow = {
    ...flow,
    status,
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
    completedAt: now,
    error,
    currentStepIndex: outcome.status === "failed" ? (compiled.byId.get(outcome.stepId)?.index ?? currentStepIndex) : currentStepIndex,
  };
  const result = buildExecutionResult(ended, finalRows, outcome.status === "completed" ? outcome.finalOutput : null);
  await updateFlow(tx, flow.id, {
    status,
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
    completedAt: now,
    error,
    currentStepIndex: ended.currentStepIndex,
    result: result,
  });
  effects.events.push(
    outcome.status === "completed"
      ? { flowId: flow.id, type: "flow_complete", data: { status, finalOutput: result.finalOutput, totalCost: result.totalCost, totalTokens: result.totalTokens } }
      : { flowId: flow.id, type: "flow_failed", ...(outcome.stepId ? { stepId: outcome.stepId } : {}), data: { status, error } },
  );
  effects.jobs.push({ name: "flow.archive-events", payload: { flowId: flow.id }, delayMs: 2_000, dedupe: String(flow.run) });
  return decision;
}
