import type { ValidationIssue } from "../errors/validation-error.js";
import type { FlowDefinition, LoopSpec } from "../schema/flow-definition.js";
import type { CompiledLoop } from "./compiled-flow.js";
import { compileCelChecked, type StepCompileContext } from "./compile-step.js";

export const DEFAULT_MAX_ITERATIONS = 3;
export const DEFAULT_QUALITY_THRESHOLD = 0.8;

/**
 * Refinement: the draft comes from the step before the `evaluate` step; then
 * evaluate → refine repeats, each new draft evaluated, until the evaluator's
 * score (the first number of its output) reaches the threshold, or
 * `maxIterations` evaluations have been made. The last draft is the output.
 */
function refinementLoop(definition: FlowDefinition, issues: ValidationIssue[]): LoopSpec | null {
  const steps = definition.steps;
  const evaluator = steps.findIndex((s) => s.kind !== "approval" && s.action === "evaluate");
  const refiner = steps[evaluator + 1];
  if (evaluator < 1 || refiner === undefined || refiner.kind === "approval" || refiner.action !== "refine") {
    issues.push({
      path: "steps",
      message:
        "a refinement flow needs a step that writes the draft, then a step with action 'evaluate' (it gives a score from 0 to 1), then a step with action 'refine'",
    });
    return null;
  }
  const threshold = definition.qualityThreshold ?? DEFAULT_QUALITY_THRESHOLD;
  const evaluatorId = (steps[evaluator] as { id: string }).id;
  return {
    steps: [evaluatorId, refiner.id],
    checkAfter: evaluatorId,
    until: `firstNumber(previous) >= ${threshold}`,
    maxIterations: definition.maxIterations ?? DEFAULT_MAX_ITERATIONS,
    draftFrom: [(steps[evaluator - 1] as { id: string }).id, refiner.id],
  };
}

export function compileLoop(definition: FlowDefinition, ctx: StepCompileContext): CompiledLoop | null {
  const spec = definition.loop ?? (definition.type === "refinement" ? refinementLoop(definition, ctx.issues) : null);
  if (!spec) return null;
  const path = definition.loop ? "loop" : "type";
  const indexes = spec.steps.map((id) => definition.steps.findIndex((s) => s.id === id));
  indexes.forEach((index, i) => {
    if (index < 0)
      ctx.issues.push({ path: `${path}.steps[${i}]`, message: `names no step of this flow ("${spec.steps[i]}")` });
  });
  const consecutive = indexes.every((index, i) => i === 0 || index === (indexes[i - 1] as number) + 1);
  if (!consecutive) {
    ctx.issues.push({ path: `${path}.steps`, message: "loop steps must be consecutive steps of the flow, in order" });
  }
  const checkAfter = spec.checkAfter ?? spec.steps[spec.steps.length - 1] ?? "";
  if (!spec.steps.includes(checkAfter)) {
    ctx.issues.push({
      path: `${path}.checkAfter`,
      message: `must be one of the loop's steps (${spec.steps.join(", ")})`,
    });
  }
  const draftFrom = spec.draftFrom ?? [];
  draftFrom.forEach((id, i) => {
    if (!ctx.stepIds.has(id))
      ctx.issues.push({ path: `${path}.draftFrom[${i}]`, message: `names no step of this flow ("${id}")` });
  });
  const until = compileCelChecked(spec.until, `${path}.until`, ctx);
  if (!until || until.kind !== "cel") return null;
  return { stepIds: spec.steps, checkAfter, until: until.condition, maxIterations: spec.maxIterations, draftFrom };
}
