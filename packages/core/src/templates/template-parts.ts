import { z } from "zod";
import type { StepAction } from "../schema/enums.js";
import { ProviderModelSchema, type FlowDefinitionInput, type ProviderModel } from "../schema/flow-definition.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import type { ParameterSpec } from "./flow-template.js";

/**
 * The models templates use when the caller names none: one per vendor, so a
 * default flow really is multi-model. Change them here, in one place.
 */
export const DEFAULT_TEMPLATE_MODELS = {
  openai: { provider: "openai", model: "gpt-4o" },
  anthropic: { provider: "anthropic", model: "claude-sonnet-4-5" },
  google: { provider: "google", model: "gemini-2.5-pro" },
  /** For steps that only classify: a one-word answer does not need a large model. */
  openaiFast: { provider: "openai", model: "gpt-4o-mini" },
} as const satisfies Record<string, ProviderModel>;

export type TemplateStep = FlowDefinitionInput["steps"][number];

/**
 * One template step. Template steps retry by default: every step of a
 * pre-built flow is on its critical path, and vendors' 429s and overloads are
 * routine, so one transient error should not fail the run.
 */
export function modelStep(
  id: string,
  target: ProviderModel,
  action: StepAction,
  prompt: string,
  extra: Partial<TemplateStep> = {},
): TemplateStep {
  return { id, provider: target.provider, model: target.model, action, prompt, retryOnFailure: true, ...extra };
}

/** "provider/model", as flow descriptions name a model. */
export function modelLabel(target: ProviderModel): string {
  return `${target.provider}/${target.model}`;
}

export const PROVIDER_MODEL_TYPE = "{ provider, model }";

export function providerParam(description: string, fallback: string): ParameterSpec<string> {
  return { schema: ProviderModelSchema.shape.provider, type: "string", description, default: fallback };
}

export function modelParam(description: string, fallback: string): ParameterSpec<string> {
  return { schema: ProviderModelSchema.shape.model, type: "string", description, default: fallback };
}

/** Without a fallback the parameter is optional and the builder picks (its description must say what). */
export function providerModelParam(description: string, fallback?: ProviderModel): ParameterSpec<ProviderModel> {
  return {
    schema: ProviderModelSchema,
    type: PROVIDER_MODEL_TYPE,
    description,
    ...(fallback ? { default: { ...fallback } } : {}),
  };
}

/** A list of models, one step each, plus one aggregating step: so at most maxSteps - 1 of them. */
export function providerModelListParam(
  description: string,
  fallback: readonly ProviderModel[],
): ParameterSpec<ProviderModel[]> {
  const max = FLOW_LIMITS.maxSteps - 1;
  return {
    schema: z
      .array(ProviderModelSchema)
      .min(2, "needs at least two models")
      .max(max, `holds at most ${max} models (a flow has at most ${FLOW_LIMITS.maxSteps} steps)`),
    type: `${PROVIDER_MODEL_TYPE}[]`,
    description,
    default: fallback.map((m) => ({ ...m })),
  };
}
