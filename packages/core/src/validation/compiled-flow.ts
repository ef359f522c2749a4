import type { CompiledCondition } from "../condition/condition-expression.js";
import type { ContextPolicy } from "../schema/context-policy.js";
import type { ZodType } from "zod";
import type { ApprovalDecision, FlowDefinition, FlowStep } from "../schema/flow-definition.js";
import type { TemplateReferences } from "../template/placeholders.js";
import type { ParsedTemplate } from "../template/prompt-template.js";

/** A validated definition, normalised into the one general model the planner runs: a DAG, conditions, one bounded loop. */
export interface CompiledFlow {
  definition: FlowDefinition;
  steps: CompiledStep[];
  byId: ReadonlyMap<string, CompiledStep>;
  policy: ContextPolicy;
  loop: CompiledLoop | null;
  output: OutputRule;
}

export type CompiledPrompt =
  | { kind: "original" }
  | { kind: "template"; template: ParsedTemplate; references: TemplateReferences }
  | { kind: "hook"; name: string };

export type CompiledStepCondition = { kind: "cel"; condition: CompiledCondition } | { kind: "hook"; name: string };

export interface CompiledStep {
  id: string;
  index: number;
  definition: FlowStep;
  /** Steps that must be terminal before this one may start (loop back-edges excluded). */
  dependsOn: string[];
  /** "previous" | "original" | "all" | a step id. */
  inputFrom: string;
  prompt: CompiledPrompt;
  systemPrompt: ParsedTemplate | null;
  condition: CompiledStepCondition | null;
  optional: boolean;
  /** The step's provider and model, then its fallbacks, in the order they are tried. */
  targets: { provider: string; model: string }[];
  /** Attempts each target gets: 1 + retries. */
  attemptsPerTarget: number;
  /** Every attempt the step may make: attemptsPerTarget × targets. */
  maxAttempts: number;
  inLoop: boolean;
  /** Set for a `delivery: "batch"` step: its first attempt goes in a provider batch, called at once past the deadline. */
  batch: { deadlineMs: number } | null;
  /** Set for an approval step (`kind: "approval"`): it waits for a person instead of calling a model. */
  approval: CompiledApproval | null;
}

export interface CompiledApproval {
  timeoutMs: number;
  onTimeout: ApprovalDecision;
  /** The approver's `data` is checked against it; null: any JSON value (or none). */
  responseSchema: ZodType | null;
}

export interface CompiledLoop {
  stepIds: string[];
  checkAfter: string;
  until: CompiledCondition;
  maxIterations: number;
  draftFrom: string[];
}

/** How the flow's final output is chosen. */
export type OutputRule = { kind: "step"; stepId: string } | { kind: "draft" } | { kind: "all" } | { kind: "last" };
