import {
  approvalResult,
  checkApprovalData,
  ValidationError,
  type ApprovalDecision,
  type ApprovalOutput,
} from "@ensemble/core";
import { decideWaitingStep, findFlow, listRunSteps, lockFlow, type StepResultRow } from "@ensemble/db";
import { transactWithEvents } from "./event-outbox.js";
import type { RunDeps } from "../engine-deps.js";
import { FlowConflictError, NotFoundError } from "../errors/engine-errors.js";
import { advanceRun } from "./advance-run.js";
import { emptyEffects, performEffects } from "./run-effects.js";

export interface ApprovalRequest {
  flowId: string;
  stepId: string;
  decision: ApprovalDecision;
  data?: unknown;
  comment?: string;
  /** The deciding user; null when the step's timeout decides. */
  decidedBy: string | null;
  /** Only this instance (a timeout job names the run and iteration it was set for); default: the waiting one. */
  instance?: { run: number; iteration: number };
}

/**
 * Decides a waiting approval step and advances its run, in one transaction under the flow's
 * row lock: the step's result (the decision as JSON), then whatever the planner does next.
 * Of racing decisions exactly one wins (the step's conditional UPDATE); the others get
 * FlowConflictError. Data that breaks the step's responseSchema is a ValidationError
 * (checked once the step is known to wait, so a late decision is a conflict first).
 */
export async function decideApproval(deps: RunDeps, request: ApprovalRequest): Promise<ApprovalOutput> {
  const { flowId, stepId } = request;
  const found = await findFlow(deps.db, flowId);
  if (!found) throw new NotFoundError("flow");
  const step = deps.flows.forRun(found).byId.get(stepId);
  if (!step) throw new NotFoundError(`step ${stepId}`);
  const approval = step.approval;
  if (!approval) throw new FlowConflictError(`step ${stepId} is not an approval step`, flowId, found.status);

  const effects = emptyEffects();
  const output = await transactWithEvents(deps, effects.events, async (tx, control) => {
    const flow = await lockFlow(tx, flowId);
    if (!flow) throw new NotFoundError("flow");
    const rows = await listRunSteps(tx, flowId, flow.run);
    const waiting = findWaiting(rows, stepId, flow.run, request.instance);
    if (!waiting || (flow.status !== "waiting" && flow.status !== "running")) {
      const latest = rows.filter((r) => r.stepId === stepId).sort((a, b) => b.iteration - a.iteration)[0];
      throw new FlowConflictError(
        `step ${stepId} is not waiting for a decision (it is ${latest?.status ?? "not started"}; the flow is ${flow.status})`,
        flowId,
        flow.status,
      );
    }
    // A person's approval carries the data the schema asks for; a reject need not (a timeout sends none).
    if (request.decidedBy !== null && (request.decision === "approve" || request.data !== undefined)) {
      const issues = checkApprovalData(approval, request.data);
      if (issues.length > 0) throw new ValidationError(issues);
    }
    const compiled = deps.flows.forRun(flow);
    const decided: ApprovalOutput = {
      decision: request.decision,
      data: request.data ?? null,
      comment: request.comment ?? null,
      decidedBy: request.decidedBy,
      decidedAt: new Date().toISOString(),
    };
    const result = approvalResult(compiled, stepId, decided);
    const row = await decideWaitingStep(tx, waiting.id, result);
    if (!row) throw new FlowConflictError(`step ${stepId} was decided meanwhile`, flowId, flow.status);
    effects.events.push(
      result.error
        ? { flowId, type: "error", stepId, data: { iteration: row.iteration, attempt: 0, error: result.error } }
        : {
            flowId,
            type: "step_complete",
            stepId,
            data: {
              iteration: row.iteration,
              attempt: 0,
              output: result.output,
              provider: "",
              model: "",
              usage: null,
              cost: null,
            },
          },
    );
    const after = rows.map((r) => (r.id === row.id ? row : r));
    await advanceRun(tx, flow, compiled, after, effects, { lifo: true, control });
    return decided;
  });
  await performEffects(deps, effects);
  return output;
}

/** `flow.approval-timeout`: the step's onTimeout decides it if it still waits (a decided or cancelled one is left alone). */
export async function timeOutApproval(
  deps: RunDeps,
  payload: { flowId: string; run: number; stepId: string; iteration: number },
): Promise<void> {
  const flow = await findFlow(deps.db, payload.flowId);
  if (!flow || flow.run !== payload.run) return;
  const approval = deps.flows.forRun(flow).byId.get(payload.stepId)?.approval;
  if (!approval) return;
  try {
    await decideApproval(deps, {
      flowId: payload.flowId,
      stepId: payload.stepId,
      decision: approval.onTimeout,
      decidedBy: null,
      instance: { run: payload.run, iteration: payload.iteration },
    });
  } catch (error) {
    // Decided, cancelled or moved on before its timeout: nothing to do.
    if (error instanceof FlowConflictError) return;
    throw error;
  }
}

function findWaiting(
  rows: readonly StepResultRow[],
  stepId: string,
  run: number,
  instance: ApprovalRequest["instance"],
): StepResultRow | undefined {
  if (instance && instance.run !== run) return undefined;
  return rows.find(
    (r) => r.stepId === stepId && r.status === "waiting" && (!instance || r.iteration === instance.iteration),
  );
}
