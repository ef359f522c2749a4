import { z } from "zod";
import type { ValidationIssue } from "../errors/validation-error.js";
import { LlmStepSchema, StepIdSchema, type FlowDefinition } from "../schema/flow-definition.js";
import { compileFlow, type CompileFlowResult } from "./compile-flow.js";

/** What a rerun may change in a step: where it is sent and what it is asked. */
export const StepOverrideSchema = LlmStepSchema.pick({
  provider: true,
  model: true,
  prompt: true,
  systemPrompt: true,
  settings: true,
  fallbacks: true,
}).partial();
export type StepOverride = z.infer<typeof StepOverrideSchema>;

/** Overrides by step id. */
export const StepOverridesSchema = z.record(StepIdSchema, StepOverrideSchema);
export type StepOverrides = z.infer<typeof StepOverridesSchema>;

const STEP_PATH = /^(?:definition\.)?steps\[(\d+)\](.*)$/;

/**
 * A path into a definition (`steps[1].model`, `definition.steps[1].model`) as the request
 * that overrode it names it (`overrides.critique.model`); other paths are left as they are.
 */
export function pathInOverrides(path: string, definition: FlowDefinition, overrides: StepOverrides): string {
  const match = STEP_PATH.exec(path);
  const step = match ? definition.steps[Number(match[1])] : undefined;
  return step && Object.hasOwn(overrides, step.id) ? `overrides.${step.id}${match?.[2] ?? ""}` : path;
}

/**
 * A definition with some steps' fields replaced, validated as a whole like any definition.
 * Issues are named where the caller wrote them: `overrides.<stepId>.<field>` for an
 * overridden step (a prompt that reads a step it does not wait for, say).
 */
export function applyStepOverrides(definition: FlowDefinition, overrides: StepOverrides): CompileFlowResult {
  const stepIds = new Set(definition.steps.map((s) => s.id));
  const unknown: ValidationIssue[] = Object.keys(overrides)
    .filter((id) => !stepIds.has(id))
    .map((id) => ({ path: `overrides.${id}`, message: `names no step of this flow ("${id}")` }));
  const approvals: ValidationIssue[] = definition.steps
    .filter((step) => step.kind === "approval" && Object.hasOwn(overrides, step.id))
    .map((step) => ({
      path: `overrides.${step.id}`,
      message: "is an approval step: it has no provider, model or prompt settings to override",
    }));
  if (unknown.length || approvals.length) return { ok: false, issues: [...unknown, ...approvals] };
  const merged: FlowDefinition = {
    ...definition,
    // Own keys only: a step named like an Object.prototype member ("toString") is not overridden by it.
    steps: definition.steps.map((step) =>
      step.kind !== "approval" && Object.hasOwn(overrides, step.id) ? { ...step, ...overrides[step.id] } : step,
    ),
  };
  const result = compileFlow(merged);
  if (result.ok) return result;
  return {
    ok: false,
    issues: result.issues.map((issue) => ({ ...issue, path: pathInOverrides(issue.path, definition, overrides) })),
  };
}
