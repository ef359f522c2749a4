import {
  planNextSteps,
  renderApprovalPrompt,
  targetForAttempt,
  type CompiledFlow,
  type PlanDecision,
  type RunInputs,
  type StepError,
  type StepDispatch,
} from "@ensemble/core";
import type { FlowProgress, FlowRow, PlannedStep, StepResultRow } from "@ensemble/db";
import { runSpend, toStepRecord } from "./records.js";
import { emptyEffects, type RunEffects } from "./run-effects.js";
import { stepDispatch } from "./step-dispatch.js";

/** A recorded instance the plan changes: a failed one moves to its next attempt, or an open one is cancelled. */
export type InstanceWrite =
  { kind: "requeue"; id: string; attempt: number; notBefore: Date | null } | { kind: "cancel"; id: string };

/** What the planner decided for a run, as writes and effects, before anything is written. */
export interface AdvancePlan {
  decision: PlanDecision;
  /** New instances (dispatched, skipped, failed, cancelled). */
  inserts: PlannedStep[];
  /** Changes to recorded instances. */
  instanceWrites: InstanceWrite[];
  /** The flow's progress when the run goes on (not written when it ends). */
  progress: FlowProgress;
  /** The furthest step index reached, for the flow row. */
  currentStepIndex: number;
  effects: RunEffects;
  now: Date;
}

export interface PlanAdvanceOptions {
  /** The steps' jobs go ahead of those queued (LIFO): a run under way finishes before queued runs start. */
  lifo: boolean;
  /** The run starts now: it is marked running in the same write as its first steps. */
  startedAt?: Date;
  /** The executing user's spend cap is reached (see SpendCaps): the run stops as its own budget stops it. */
  spendCapReached?: StepError;
}

/**
 * Asks the planner what comes next for a run, given its instances, and turns the decision
 * into writes and effects (jobs to enqueue, events to publish, calls to abort). Pure: the
 * caller writes them (see advanceRun) under the flow's row lock.
 */
export function planAdvance(
  flow: FlowRow,
  compiled: CompiledFlow,
  rows: readonly StepResultRow[],
  options: PlanAdvanceOptions,
): AdvancePlan {
  const records = rows.map(toStepRecord);
  const inputs: RunInputs = {
    originalPrompt: flow.input ?? "",
    metadata: flow.metadata,
    spent: runSpend(flow, rows),
    ...(options.spendCapReached ? { spendCapReached: options.spendCapReached } : {}),
  };
  const decision = planNextSteps(compiled, records, inputs);
  const byKey = new Map(rows.map((r) => [`${r.stepId}#${r.iteration}`, r]));
  const instance = (
    stepId: string,
    iteration: number,
    status: PlannedStep["status"],
    extra: Pick<PlannedStep, "completedAt" | "error"> = {},
  ): PlannedStep => {
    const step = compiled.byId.get(stepId);
    const target = step?.targets[0];
    return {
      stepId,
      stepIndex: step?.index ?? 0,
      iteration,
      status,
      // An approval step has no provider or model; its action column says what a person does.
      provider: target?.provider ?? "",
      model: target?.model ?? "",
      action: step && step.definition.kind !== "approval" ? step.definition.action : "validate",
      ...extra,
    };
  };
  const now = new Date();
  const effects: RunEffects = emptyEffects();
  const inserts: PlannedStep[] = [];
  const instanceWrites: InstanceWrite[] = [];
  let currentStepIndex = flow.currentStepIndex;

  const waits = (d: StepDispatch): boolean => Boolean(compiled.byId.get(d.stepId)?.approval);
  for (const d of decision.dispatch) {
    const approval = compiled.byId.get(d.stepId)?.approval;
    if (approval) {
      // An approval step waits: no job, no lease, no worker. Its timeout is a delayed job.
      currentStepIndex = Math.max(currentStepIndex, compiled.byId.get(d.stepId)?.index ?? 0);
      const expiresAt = new Date(now.getTime() + approval.timeoutMs);
      const prompt = renderApprovalPrompt(compiled, records, inputs, d.stepId, d.iteration);
      inserts.push({ ...instance(d.stepId, d.iteration, "waiting"), wait: { prompt, expiresAt } });
      effects.events.push({
        flowId: flow.id,
        type: "step_waiting",
        stepId: d.stepId,
        data: { iteration: d.iteration, prompt, expiresAt: expiresAt.toISOString() },
      });
      effects.jobs.push({
        name: "flow.approval-timeout",
        payload: { flowId: flow.id, run: flow.run, stepId: d.stepId, iteration: d.iteration },
        delayMs: approval.timeoutMs,
      });
      continue;
    }
    const label = `${flow.name} › ${d.stepId}${d.iteration > 0 ? ` #${d.iteration}` : ""}`;
    const step = compiled.byId.get(d.stepId);
    const target = step ? targetForAttempt(step, d.attempt) : null;
    const payload = {
      flowId: flow.id,
      run: flow.run,
      stepId: d.stepId,
      iteration: d.iteration,
      attempt: d.attempt,
      label,
      ...(target ? { provider: target.provider, model: target.model } : {}),
      dispatch: stepDispatch(flow),
    };
    currentStepIndex = Math.max(currentStepIndex, step?.index ?? 0);
    if (d.attempt === 0) {
      inserts.push(instance(d.stepId, d.iteration, "pending"));
    } else {
      const row = byKey.get(`${d.stepId}#${d.iteration}`);
      if (!row) continue;
      instanceWrites.push({
        kind: "requeue",
        id: row.id,
        attempt: d.attempt,
        notBefore: d.delayMs > 0 ? new Date(now.getTime() + d.delayMs) : null,
      });
      effects.events.push({
        flowId: flow.id,
        type: "step_retry",
        stepId: d.stepId,
        data: { iteration: d.iteration, attempt: d.attempt, delayMs: d.delayMs, error: row.error },
      });
    }
    effects.jobs.push({ name: "step.run", payload, delayMs: d.delayMs, lifo: options.lifo });
  }
  for (const s of decision.skip) {
    inserts.push(
      instance(s.stepId, s.iteration, "skipped", { completedAt: now, error: { code: "skipped", message: s.reason } }),
    );
    effects.events.push({
      flowId: flow.id,
      type: "step_skipped",
      stepId: s.stepId,
      data: { iteration: s.iteration, reason: s.reason },
    });
  }
  for (const f of decision.fail) {
    inserts.push(instance(f.stepId, f.iteration, "failed", { completedAt: now, error: f.error }));
    effects.events.push({
      flowId: flow.id,
      type: "error",
      stepId: f.stepId,
      data: { iteration: f.iteration, error: f.error },
    });
  }
  for (const c of decision.cancel) {
    const row = byKey.get(`${c.stepId}#${c.iteration}`);
    if (row) instanceWrites.push({ kind: "cancel", id: row.id });
    else inserts.push(instance(c.stepId, c.iteration, "cancelled", { completedAt: now }));
  }
  if (decision.cancel.some((c) => c.inFlight)) effects.abortFlows.push({ flowId: flow.id, reason: "cancelled" });

  const progress: FlowProgress = options.startedAt ? { status: "running", startedAt: options.startedAt } : {};
  if (!decision.outcome) {
    // The flow waits while approval steps wait and nothing else runs or is about to (a batched step is work).
    const working =
      decision.dispatch.some((d) => !waits(d)) ||
      rows.some((r) => r.status === "pending" || r.status === "running" || r.status === "batched");
    const waiting = decision.dispatch.some(waits) || rows.some((r) => r.status === "waiting");
    if (waiting && !working) progress.status = "waiting";
    else if (flow.status === "waiting") progress.status = "running";
  }
  if (currentStepIndex !== flow.currentStepIndex) progress.currentStepIndex = currentStepIndex;
  return { decision, inserts, instanceWrites, progress, currentStepIndex, effects, now };
}

/**
 * Whether a plan changes nothing: no instance to record or change, no job, event or abort,
 * no end and no progress. A step that ended alone and plans this leaves the run as it is.
 */
export function isIdlePlan(plan: AdvancePlan): boolean {
  const { inserts, instanceWrites, effects, progress, decision } = plan;
  return (
    !decision.outcome &&
    inserts.length === 0 &&
    instanceWrites.length === 0 &&
    effects.jobs.length === 0 &&
    effects.events.length === 0 &&
    effects.abortFlows.length === 0 &&
    Object.keys(progress).length === 0
  );
}

/** Adds a plan's effects to those of the transaction it is written in. */
export function addPlanEffects(effects: RunEffects, plan: AdvancePlan): void {
  effects.jobs.push(...plan.effects.jobs);
  effects.events.push(...plan.effects.events);
  effects.abortFlows.push(...plan.effects.abortFlows);
  effects.archiveFlows.push(...plan.effects.archiveFlows);
}
