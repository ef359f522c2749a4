import { ValidationError, type ValidationIssue } from "../errors/validation-error.js";
import { issuesFromZod } from "../errors/zod-issues.js";
import type { HookCatalog } from "../hooks/hook-registry.js";
import { ContextPolicySchema } from "../schema/context-policy.js";
import { FlowDefinitionSchema, type FlowDefinition, type LlmStep } from "../schema/flow-definition.js";
import {
  BATCH_PROVIDERS,
  DEFAULT_BATCH_DEADLINE_MS,
  hasBatchApi,
  parseBatchDeadline,
} from "../batch/batch-deadline.js";
import type { CompiledFlow, CompiledLoop, CompiledStep, OutputRule } from "./compiled-flow.js";
import { compileLoop } from "./compile-loop.js";
import { compilePrompt, compileStepCondition, compileSystemPrompt, type StepCompileContext } from "./compile-step.js";
import { presetDependencies, presetInputFrom } from "./flow-presets.js";
import { checkWorstCasePromptSize } from "./prompt-size.js";
import { ancestorsOf, findCycle } from "./graph.js";
import { compileApproval } from "./compile-approval.js";

export interface CompileFlowOptions {
  /** Hook names registered in the workers; when given, an unknown hook name is a validation error. */
  hooks?: HookCatalog;
}

export type CompileFlowResult = { ok: true; flow: CompiledFlow } | { ok: false; issues: ValidationIssue[] };

const SPECIAL_INPUTS = new Set(["previous", "original", "all"]);
const DEFAULT_RETRIES_WHEN_ENABLED = 3;

/**
 * Validates a definition in full (shape, references, cycles, templates, conditions,
 * hooks, policy contradictions) and normalises it for the planner. Every problem
 * is reported, each with its path, not only the first.
 */
export function compileFlow(input: unknown, options: CompileFlowOptions = {}): CompileFlowResult {
  const parsed = FlowDefinitionSchema.safeParse(input);
  if (!parsed.success) return { ok: false, issues: issuesFromZod(parsed.error) };
  const definition = parsed.data;
  const issues: ValidationIssue[] = [];
  const stepIds = new Set<string>();
  definition.steps.forEach((step, i) => {
    if (stepIds.has(step.id))
      issues.push({
        path: `steps[${i}].id`,
        message: `"${step.id}" is used by an earlier step; step ids must be unique`,
      });
    stepIds.add(step.id);
  });
  if (issues.length) return { ok: false, issues };

  const policy = ContextPolicySchema.parse(definition.contextPolicy ?? {});
  const ctx: StepCompileContext = { stepIds, policy, hooks: options.hooks, issues };
  const steps = definition.steps.map((step, index) => compileStep(definition, index, ctx));
  for (const step of steps) checkWorstCasePromptSize(step, `steps[${step.index}]`, policy, issues);
  const loop = compileLoop(definition, ctx);
  if (loop) for (const step of steps) step.inLoop = loop.stepIds.includes(step.id);
  checkGraph(steps, loop, issues);
  const output = chooseOutput(definition, loop, issues);
  if (issues.length) return { ok: false, issues };
  return { ok: true, flow: { definition, steps, byId: new Map(steps.map((s) => [s.id, s])), policy, loop, output } };
}

/** compileFlow, throwing a ValidationError. */
export function compileFlowOrThrow(input: unknown, options: CompileFlowOptions = {}): CompiledFlow {
  const result = compileFlow(input, options);
  if (!result.ok) throw new ValidationError(result.issues);
  return result.flow;
}

function compileStep(definition: FlowDefinition, index: number, ctx: StepCompileContext): CompiledStep {
  const step = definition.steps[index] as FlowDefinition["steps"][number];
  const path = `steps[${index}]`;
  const dependsOn = step.dependsOn ?? presetDependencies(definition, index);
  step.dependsOn?.forEach((dep, i) => {
    if (!ctx.stepIds.has(dep))
      ctx.issues.push({ path: `${path}.dependsOn[${i}]`, message: `names no step of this flow ("${dep}")` });
    if (dep === step.id)
      ctx.issues.push({ path: `${path}.dependsOn[${i}]`, message: "a step cannot depend on itself" });
  });
  const inputFrom = presetInputFrom(definition, step);
  if (!SPECIAL_INPUTS.has(inputFrom) && !ctx.stepIds.has(inputFrom)) {
    ctx.issues.push({
      path: `${path}.inputFrom`,
      message: `must be previous, original, all or a step id; "${inputFrom}" names no step`,
    });
  }
  const common = {
    id: step.id,
    index,
    dependsOn,
    inputFrom,
    prompt: compilePrompt(step, path, ctx) ?? { kind: "original" as const },
    systemPrompt: compileSystemPrompt(step, path, ctx),
    condition: compileStepCondition(step, path, ctx),
    optional: step.optional ?? false,
    inLoop: false,
  };
  if (step.kind === "approval") {
    return {
      ...common,
      definition: step,
      targets: [],
      attemptsPerTarget: 1,
      maxAttempts: 1,
      batch: null,
      approval: compileApproval(step, common.prompt, path, ctx.issues),
    };
  }
  if (step.maxRetries !== undefined && step.retryOnFailure === false && step.maxRetries > 0) {
    ctx.issues.push({ path: `${path}.maxRetries`, message: "is set but retryOnFailure is false" });
  }
  const retries = step.retryOnFailure ? (step.maxRetries ?? DEFAULT_RETRIES_WHEN_ENABLED) : 0;
  return {
    ...common,
    definition: step,
    targets: [{ provider: step.provider, model: step.model }, ...(step.fallbacks ?? [])],
    attemptsPerTarget: 1 + retries,
    maxAttempts: (1 + retries) * (1 + (step.fallbacks?.length ?? 0)),
    batch: compileBatchDelivery(step, path, ctx.issues),
    approval: null,
  };
}

function compileBatchDelivery(step: LlmStep, path: string, issues: ValidationIssue[]): CompiledStep["batch"] {
  if (step.delivery !== "batch") {
    if (step.batchDeadline !== undefined)
      issues.push({ path: `${path}.batchDeadline`, message: 'is set but delivery is not "batch"' });
    return null;
  }
  if (!hasBatchApi(step.provider)) {
    issues.push({
      path: `${path}.delivery`,
      message: `provider "${step.provider}" has no batch API (batch delivery: ${BATCH_PROVIDERS.join(", ")})`,
    });
    return null;
  }
  if (step.batchDeadline === undefined) return { deadlineMs: DEFAULT_BATCH_DEADLINE_MS };
  const deadlineMs = parseBatchDeadline(step.batchDeadline);
  if (deadlineMs === null) {
    issues.push({
      path: `${path}.batchDeadline`,
      message: 'must be a positive number of milliseconds or an ISO 8601 duration such as "PT6H"',
    });
    return null;
  }
  return { deadlineMs };
}

/** No cycles; every step a step reads from must finish before it (or share its loop). */
function checkGraph(steps: CompiledStep[], loop: CompiledLoop | null, issues: ValidationIssue[]): void {
  const dependencies = new Map(steps.map((s) => [s.id, s.dependsOn]));
  const cycle = findCycle(dependencies);
  if (cycle) {
    issues.push({ path: "steps", message: `the steps depend on each other in a cycle: ${cycle.join(" → ")}` });
    return;
  }
  const inLoop = new Set(loop?.stepIds ?? []);
  for (const step of steps) {
    const ancestors = ancestorsOf(step.id, dependencies);
    const readable = (id: string): boolean => ancestors.has(id) || (inLoop.has(id) && inLoop.has(step.id));
    const path = `steps[${step.index}]`;
    if (
      !SPECIAL_INPUTS.has(step.inputFrom) &&
      !readable(step.inputFrom) &&
      steps.some((s) => s.id === step.inputFrom)
    ) {
      issues.push({
        path: `${path}.inputFrom`,
        message: `step "${step.inputFrom}" does not run before "${step.id}"; add it to dependsOn`,
      });
    }
    const referenced = step.prompt.kind === "template" ? step.prompt.references.stepIds : [];
    for (const id of new Set(referenced)) {
      if (!readable(id) && steps.some((s) => s.id === id)) {
        issues.push({
          path: `${path}.prompt`,
          message: `reads steps.${id}, which does not run before "${step.id}"; add it to dependsOn`,
        });
      }
    }
  }
}

function chooseOutput(definition: FlowDefinition, loop: CompiledLoop | null, issues: ValidationIssue[]): OutputRule {
  if (definition.output !== undefined) {
    if (!definition.steps.some((s) => s.id === definition.output)) {
      issues.push({ path: "output", message: `names no step of this flow ("${definition.output}")` });
    }
    return { kind: "step", stepId: definition.output };
  }
  if (loop && loop.draftFrom.length > 0) return { kind: "draft" };
  if (definition.type === "parallel") {
    const aggregate = definition.steps.filter((s) => s.aggregate);
    return aggregate.length
      ? { kind: "step", stepId: (aggregate[aggregate.length - 1] as { id: string }).id }
      : { kind: "all" };
  }
  return { kind: "last" };
}
