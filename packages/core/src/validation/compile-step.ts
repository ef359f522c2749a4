import { compileCondition, ConditionSyntaxError, referencedStepIds } from "../condition/condition-expression.js";
import type { ValidationIssue } from "../errors/validation-error.js";
import type { HookCatalog } from "../hooks/hook-registry.js";
import type { ContextPolicy } from "../schema/context-policy.js";
import type { FlowStep } from "../schema/flow-definition.js";
import { checkPlaceholderPath, collectReferences } from "../template/placeholders.js";
import {
  listPlaceholders,
  parseTemplate,
  TemplateSyntaxError,
  type ParsedTemplate,
} from "../template/prompt-template.js";
import type { CompiledPrompt, CompiledStepCondition } from "./compiled-flow.js";

export interface StepCompileContext {
  stepIds: ReadonlySet<string>;
  policy: ContextPolicy;
  hooks: HookCatalog | undefined;
  issues: ValidationIssue[];
}

function parseChecked(source: string, path: string, ctx: StepCompileContext): ParsedTemplate | null {
  let template: ParsedTemplate;
  try {
    template = parseTemplate(source);
  } catch (error) {
    if (!(error instanceof TemplateSyntaxError)) throw error;
    ctx.issues.push({ path, message: error.message });
    return null;
  }
  for (const placeholder of listPlaceholders(template)) {
    const problem = checkPlaceholderPath(placeholder, ctx.stepIds);
    if (problem) ctx.issues.push({ path, message: problem });
  }
  return template;
}

function checkHook(kind: "prompts" | "conditions", name: string, path: string, ctx: StepCompileContext): void {
  if (ctx.hooks && !ctx.hooks[kind].includes(name)) {
    const known = ctx.hooks[kind].length ? ctx.hooks[kind].join(", ") : "none";
    ctx.issues.push({
      path,
      message: `no ${kind === "prompts" ? "prompt" : "condition"} hook "${name}" is registered (registered: ${known})`,
    });
  }
}

export function compilePrompt(step: FlowStep, path: string, ctx: StepCompileContext): CompiledPrompt | null {
  const spec = step.prompt;
  if (typeof spec !== "string") {
    checkHook("prompts", spec.hook, `${path}.prompt.hook`, ctx);
    return { kind: "hook", name: spec.hook };
  }
  if (spec.trim() === "original") return { kind: "original" };
  const template = parseChecked(spec, `${path}.prompt`, ctx);
  if (!template) return null;
  const references = collectReferences(template);
  if (references.stepOutputs && !ctx.policy.shareStepOutputs) {
    ctx.issues.push({
      path: `${path}.prompt`,
      message: "uses earlier steps' outputs, but contextPolicy.shareStepOutputs is false",
    });
  }
  if (references.history && !ctx.policy.shareConversationHistory) {
    ctx.issues.push({
      path: `${path}.prompt`,
      message: "uses {{ history }}, but contextPolicy.shareConversationHistory is false",
    });
  }
  return { kind: "template", template, references };
}

export function compileSystemPrompt(step: FlowStep, path: string, ctx: StepCompileContext): ParsedTemplate | null {
  if (step.kind === "approval" || step.systemPrompt === undefined) return null;
  return parseChecked(step.systemPrompt, `${path}.systemPrompt`, ctx);
}

export function compileStepCondition(
  step: FlowStep,
  path: string,
  ctx: StepCompileContext,
): CompiledStepCondition | null {
  const spec = step.condition;
  if (spec === undefined) return null;
  if (typeof spec !== "string") {
    checkHook("conditions", spec.hook, `${path}.condition.hook`, ctx);
    return { kind: "hook", name: spec.hook };
  }
  return compileCelChecked(spec, `${path}.condition`, ctx);
}

export function compileCelChecked(source: string, path: string, ctx: StepCompileContext): CompiledStepCondition | null {
  for (const id of referencedStepIds(source)) {
    if (!ctx.stepIds.has(id)) ctx.issues.push({ path, message: `names no step of this flow ("steps.${id}")` });
  }
  try {
    return { kind: "cel", condition: compileCondition(source) };
  } catch (error) {
    if (!(error instanceof ConditionSyntaxError)) throw error;
    ctx.issues.push({ path, message: `is not a valid CEL expression: ${error.message}` });
    return null;
  }
}
