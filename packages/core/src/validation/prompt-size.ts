import type { ValidationIssue } from "../errors/validation-error.js";
import type { ContextPolicy } from "../schema/context-policy.js";
import { ESTIMATED_CHARS_PER_TOKEN, FLOW_LIMITS } from "../schema/limits.js";
import { listPlaceholders, type ParsedTemplate } from "../template/prompt-template.js";
import type { CompiledStep } from "./compiled-flow.js";

/** Placeholders that place shared context (capped by `maxSharedTokens` each time they appear). */
const SHARED_ROOTS = new Set(["previous", "all", "draft", "history", "steps"]);

/**
 * Refuses a step whose request can only be too large: the worst case of its prompt and
 * system prompt — each `{{ original }}` at the largest input, each placement of shared
 * context at `maxSharedTokens` (an estimate in characters), plus what the step attaches
 * by itself — over `FLOW_LIMITS.maxRenderedPromptChars`. Placing `{{ all }}` forty times is
 * caught here, before it runs; the run-time check is the exact one.
 */
export function checkWorstCasePromptSize(
  step: CompiledStep,
  path: string,
  policy: ContextPolicy,
  issues: ValidationIssue[],
): void {
  const shared = policy.maxSharedTokens * ESTIMATED_CHARS_PER_TOKEN;
  let worst = step.systemPrompt ? worstCaseChars(step.systemPrompt, shared) : 0;
  const prompt = step.prompt;
  if (prompt.kind === "template") {
    worst += worstCaseChars(prompt.template, shared);
    if (!prompt.references.original && policy.includeOriginalPrompt) worst += FLOW_LIMITS.maxInputChars;
    const attachesInput = step.inputFrom !== "original" && step.dependsOn.length > 0;
    if (!prompt.references.stepOutputs && policy.shareStepOutputs && attachesInput) worst += shared;
  } else if (prompt.kind === "original") {
    worst += FLOW_LIMITS.maxInputChars;
  }
  if (worst <= FLOW_LIMITS.maxRenderedPromptChars) return;
  const where = prompt.kind === "template" ? `${path}.prompt` : `${path}.systemPrompt`;
  issues.push({
    path: where,
    message:
      `can render up to ~${worst} characters, over the limit of ${FLOW_LIMITS.maxRenderedPromptChars} per request ` +
      `(each {{ original }} counts ${FLOW_LIMITS.maxInputChars}, each placement of shared context contextPolicy.maxSharedTokens × ${ESTIMATED_CHARS_PER_TOKEN}); ` +
      "place fewer placeholders or lower contextPolicy.maxSharedTokens",
  });
}

function worstCaseChars(template: ParsedTemplate, sharedChars: number): number {
  let chars = 0;
  for (const part of template.parts) if (part.kind === "text") chars += part.text.length;
  for (const [root] of listPlaceholders(template)) {
    if (root === "original") chars += FLOW_LIMITS.maxInputChars;
    else if (root !== undefined && SHARED_ROOTS.has(root)) chars += sharedChars;
  }
  return chars;
}
