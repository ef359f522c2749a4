import type { FlowDefinition, FlowStep } from "../schema/flow-definition.js";

/**
 * The five flow types are presets over one model. A preset decides, for steps
 * without an explicit `dependsOn`, what they wait for, and a default `inputFrom`.
 */
export function presetDependencies(definition: FlowDefinition, index: number): string[] {
  const steps = definition.steps;
  const step = steps[index] as FlowStep;
  const before = steps.slice(0, index);
  switch (definition.type) {
    case "sequential":
    case "critique":
    case "refinement":
      return index === 0 ? [] : [(steps[index - 1] as FlowStep).id];
    case "parallel":
      // Plain steps start at once; an aggregate step waits for every plain step.
      return step.aggregate ? steps.filter((s) => !s.aggregate).map((s) => s.id) : [];
    case "conditional":
      return conditionalDependencies(step, before);
  }
}

/**
 * Conditional flows: a guarded step branches off the last unguarded step before
 * it (so every branch sees the router's output as `previous`); an unguarded step
 * joins that router and every branch since.
 */
function conditionalDependencies(step: FlowStep, before: FlowStep[]): string[] {
  let routerIndex = -1;
  for (let i = before.length - 1; i >= 0; i -= 1) {
    if ((before[i] as FlowStep).condition === undefined) {
      routerIndex = i;
      break;
    }
  }
  const router = routerIndex >= 0 ? [(before[routerIndex] as FlowStep).id] : [];
  if (step.condition !== undefined) return router;
  return [...router, ...before.slice(routerIndex + 1).map((s) => s.id)];
}

export function presetInputFrom(definition: FlowDefinition, step: FlowStep): string {
  if (step.inputFrom) return step.inputFrom;
  if (definition.type === "parallel" && step.aggregate) return "all";
  // A critique flow's refine step sees both the draft and the critique.
  if (definition.type === "critique" && step.kind !== "approval" && step.action === "refine") return "all";
  return "previous";
}
