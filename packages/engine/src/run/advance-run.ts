import {
  planNextSteps,
  targetForAttempt,
  type CompiledFlow,
  type PlanDecision,
  type StepError,
} from "@ensemble/core";
import {
  listRunSteps,
  requeueStepAttempt,
  sendPlannedSteps,
  setStepStatus,
  updateFlow,
  type Executor,
  type FlowProgress,
  type FlowRow,
  type PlannedStep,
  type StepResultRow,
  type TransactionControl,
} from "@ensemble/db";
import { buildExecutionResult, toStepRecord } from "./records.js";
import type { RunEffects } from "./run-effects.js";

export interface AdvanceOptions {
  /** Continuing a running flow: its next steps jump the queue (finish started flows first). */
  continuing: boolean;
  /** The caller's transaction: the planned steps are its last write and travel with COMMIT. */
  control: TransactionControl;
  /** The run starts now: it is marked running in the same write as its first steps. */
  startedAt?: Date;
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
  const decision = planNextSteps(compiled, rows.map(toStepRecord), {
    originalPrompt: flow.input ?? "",
    metadata: flow.metadata,
    spent: { costUsd: flow.totalCost, tokens: flow.totalTokens },
  });
  const byKey = new Map(rows.map((r) => [`${r.stepId}#${r.iteration}`, r]));
  const instance = (stepId: string, iteration: number, status: string, extra: Pick<PlannedStep, "completedAt" | "error"> = {}): PlannedStep => {
    const step = compiled.byId.get(stepId);
    return {
      stepId,
      stepIndex: step?.index ?? 0,
      iteration,
      status,
      provider: step?.definition.provider ?? "",
      model: step?.definition.model ?? "",
      action: step?.definition.action ?? "generate",
      ...extra,
    };
  };
  const now = new Date();
  const inserts: PlannedStep[] = [];
  const writes: Promise<unknown>[] = [];
  let currentStepIndex = flow.currentStepIndex;

  for (const d of decision.dispatch) {
    const label = `${flow.name} › ${d.stepId}${d.iteration > 0 ? ` #${d.iteration}` : ""}`;
    const step = compiled.byId.get(d.stepId);
    const target = step ? targetForAttempt(step, d.attempt) : null;
    const payload = { flowId: flow.id, run: flow.run, stepId: d.stepId, iteration: d.iteration, attempt: d.attempt, label, ...(target ? { provider: target.provider, model: target.model } : {}) };
    currentStepIndex = Math.max(currentStepIndex, step?.index ?? 0);
    if (d.attempt === 0) {
      inserts.push(instance(d.stepId, d.iteration, "pending"));
    } else {
      const row = byKey.get(`${d.stepId}#${d.iteration}`);
      if (!row) continue;
      writes.push(requeueStepAttempt(tx, row.id, d.attempt, d.delayMs > 0 ? new Date(now.getTime() + d.delayMs) : null));
      effects.events.push({
        flowId: flow.id,
        type: "step_retry",
        stepId: d.stepId,
        data: { iteration: d.iteration, attempt: d.attempt, delayMs: d.delayMs, error: row.error },
      });
    }
    effects.jobs.push({ name: "step.run", payload, delayMs: d.delayMs, lifo: options.continuing });
  }
  for (const s of decision.skip) {
    inserts.push(instance(s.stepId, s.iteration, "skipped", { completedAt: now, error: { code: "skipped", message: s.reason } }));
    effects.events.push({ flowId: flow.id, type: "step_skipped", stepId: s.stepId, data: { iteration: s.iteration, reason: s.reason } });
  }
  for (const f of decision.fail) {
    inserts.push(instance(f.stepId, f.iteration, "failed", { completedAt: now, error: f.error }));
    effects.events.push({ flowId: flow.id, type: "error", stepId: f.stepId, data: { iteration: f.iteration, error: f.error } });
  }
  for (const c of decision.cancel) {
    const row = byKey.get(`${c.stepId}#${c.iteration}`);
    if (row) writes.push(setStepStatus(tx, row.id, "cancelled"));
    else inserts.push(instance(c.stepId, c.iteration, "cancelled", { completedAt: now }));
  }
  if (decision.cancel.some((c) => c.inFlight)) effects.abortFlows.push({ flowId: flow.id, reason: "cancelled" });
  // Retries and cancels of recorded instances (the rarer case) are written first.
  await Promise.all(writes);
  const outcome = decision.outcome;
  if (!outcome) {
    const progress: FlowProgress = options.startedAt ? { status: "running", startedAt: options.startedAt } : {};
    if (currentStepIndex !== flow.currentStepIndex) progress.currentStepIndex = currentStepIndex;
    // The transaction's last write: COMMIT goes out with it.
    options.control.commitAfter(sendPlannedSteps(tx, flow.id, flow.run, inserts, progress));
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
