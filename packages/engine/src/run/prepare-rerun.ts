import {
  applyStepOverrides,
  pathInOverrides,
  stepsToRerun,
  ValidationError,
  type CompiledFlow,
  type FlowDefinition,
  type StepOverrides,
} from "@ensemble/core";
import { findFlowRun, listRunSteps, type Executor, type FlowRow, type NewStepInstance } from "@ensemble/db";
import { FlowConflictError, NotFoundError, PolicyViolationError } from "../errors/engine-errors.js";

/** `POST …/runs/:run/rerun`: which run, from which step, with what changed. */
export interface RerunRequest {
  of: number;
  fromStep: string;
  overrides?: StepOverrides;
}

export interface PreparedRerun {
  /** The definition the new run executes: the source run's with the overrides applied. */
  compiled: CompiledFlow;
  /** That definition, when it is not the flow's own (stored on the run); null when it is. */
  runDefinition: Record<string, unknown> | null;
  /** The source run's input, the new run's unless the request gives one. */
  sourceInput: string;
  /** The new run's instances copied from the source run (steps that neither are nor follow `fromStep`). */
  reused: NewStepInstance[];
}

/**
 * Reads a rerun's source run and works out the new run: its definition (validated like any,
 * issues named `overrides.<step>.<field>`) and the step results it reuses. The source run
 * is only read. Inside the execute transaction, which holds the flow's row lock.
 */
export async function prepareRerun(
  tx: Executor,
  flow: FlowRow,
  request: RerunRequest,
  newRun: number,
  now: Date,
): Promise<PreparedRerun> {
  const source = await findFlowRun(tx, flow, request.of);
  if (!source) throw new NotFoundError("run");
  if (source.onlyStepId)
    throw new FlowConflictError(
      `run ${source.run} executed step "${source.onlyStepId}" alone; rerun a run of the whole flow`,
      flow.id,
      flow.status,
    );
  const sourceDefinition = source.definition as FlowDefinition;
  if (!sourceDefinition.steps.some((s) => s.id === request.fromStep))
    throw new ValidationError([{ path: "fromStep", message: `names no step of this flow ("${request.fromStep}")` }]);
  const result = applyStepOverrides(sourceDefinition, request.overrides ?? {});
  if (!result.ok) throw new ValidationError(result.issues);
  const compiled = result.flow;
  const definition = compiled.definition as unknown as Record<string, unknown>;
  const runDefinition = JSON.stringify(definition) === JSON.stringify(flow.definition) ? null : definition;

  const again = stepsToRerun(compiled, request.fromStep);
  const reused: NewStepInstance[] = (await listRunSteps(tx, flow.id, source.run))
    .filter((row) => !again.has(row.stepId) && (row.status === "success" || row.status === "skipped"))
    .map((row) => ({
      flowId: flow.id,
      run: newRun,
      stepId: row.stepId,
      stepIndex: compiled.byId.get(row.stepId)?.index ?? row.stepIndex,
      iteration: row.iteration,
      attempt: 0,
      status: row.status,
      output: row.output,
      provider: row.provider,
      model: row.model,
      action: row.action,
      usage: null,
      cost: row.status === "success" ? 0 : null,
      error: row.error,
      reusedFrom: source.run,
      startedAt: now,
      completedAt: now,
    }));
  return { compiled, runDefinition, sourceInput: source.input ?? "", reused };
}

/**
 * A refusal of a rerun's definition (a data-sharing policy, a provider the cluster does not
 * serve) named where the request put the field: `overrides.<step>.<field>` for an overridden step.
 */
export function inOverrideTerms(error: unknown, definition: FlowDefinition, overrides: StepOverrides): unknown {
  const rename = (path: string) => pathInOverrides(path, definition, overrides);
  if (error instanceof ValidationError)
    return new ValidationError(error.issues.map((issue) => ({ ...issue, path: rename(issue.path) })));
  if (error instanceof PolicyViolationError)
    return new PolicyViolationError(error.violations.map((v) => ({ ...v, path: rename(v.path) })));
  return error;
}
