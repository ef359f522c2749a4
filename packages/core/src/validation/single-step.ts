import { ValidationError } from "../errors/validation-error.js";
import type { FlowDefinition } from "../schema/flow-definition.js";
import { compileFlow } from "./compile-flow.js";
import type { CompiledFlow } from "./compiled-flow.js";

/**
 * The definition of one step run alone (`executeStep`): the step as written, its input the
 * execute call's, with nothing before it — no dependencies, no condition, no loop. A step
 * whose prompt reads other steps' outputs cannot run alone.
 */
export function singleStepDefinition(definition: FlowDefinition, stepId: string): FlowDefinition {
  const step = definition.steps.find((s) => s.id === stepId);
  if (!step) throw new ValidationError([{ path: "stepId", message: `names no step of this flow ("${stepId}")` }]);
  const {
    dependsOn: _dependsOn,
    condition: _condition,
    aggregate: _aggregate,
    inputFrom: _inputFrom,
    optional: _optional,
    ...alone
  } = step;
  return {
    name: `${definition.name} › ${step.id}`,
    type: "sequential",
    steps: [alone],
    ...(definition.contextPolicy ? { contextPolicy: definition.contextPolicy } : {}),
    ...(definition.budget ? { budget: definition.budget } : {}),
    ...(definition.maxExecutionTime ? { maxExecutionTime: definition.maxExecutionTime } : {}),
  };
}

/** Compiles `singleStepDefinition`, saying why when the step cannot run alone. */
export function compileSingleStep(definition: FlowDefinition, stepId: string): CompiledFlow {
  const compiled = compileFlow(singleStepDefinition(definition, stepId));
  if (compiled.ok) return compiled.flow;
  throw new ValidationError(
    compiled.issues.map((i) => ({
      path: "stepId",
      message: `step "${stepId}" cannot run alone: ${i.path.replace(/^steps\[0\]\.?/, "")} ${i.message}`.replace(
        / {2,}/g,
        " ",
      ),
    })),
  );
}
