import type { ConditionVariables } from "./condition-expression.js";

/**
 * The variables as cel-js values. Objects become `Map`s: cel-js reads a plain object's
 * `constructor` to learn its type, so a metadata key or step id named `constructor`
 * (or a null-prototype object) made every condition fail with "Unsupported type".
 * A Map's keys are only data.
 */
export function toCelVariables(variables: ConditionVariables): Record<string, unknown> {
  const steps = new Map(
    Object.entries(variables.steps).map(([id, step]) => [
      id,
      new Map<string, unknown>([
        ["output", step.output],
        ["status", step.status],
        ["decision", step.decision ?? ""],
      ]),
    ]),
  );
  return { ...variables, steps, metadata: toCelValue(variables.metadata), iteration: BigInt(variables.iteration) };
}

function toCelValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCelValue);
  if (typeof value === "object" && value !== null)
    return new Map(Object.entries(value).map(([key, item]) => [key, toCelValue(item)]));
  return value;
}
