import { z } from "zod";
import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput, ProviderModel } from "../schema/flow-definition.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import { DEFAULT_MAX_ITERATIONS, DEFAULT_QUALITY_THRESHOLD } from "../validation/compile-loop.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import {
  DEFAULT_TEMPLATE_MODELS,
  modelLabel,
  modelParam,
  modelStep,
  providerModelParam,
  providerParam,
} from "./template-parts.js";

export interface RefinementFlowParams {
  maxIterations: number;
  qualityThreshold: number;
  provider: string;
  model: string;
  evaluator?: ProviderModel;
}

const GENERATE_PROMPT = `Respond to the request below. Give a complete, accurate and well-organised answer, and state any assumption you make.

Request:
{{ original }}`;

// The loop reads the score as the first number of this step's output (firstNumber), so nothing may precede it.
const EVALUATE_PROMPT = `Evaluate how well the draft below fulfils the request. Judge accuracy, completeness, clarity and how directly it addresses what was asked.

Request:
{{ original }}

Draft:
{{ draft }}

Score the draft from 0 to 1: 1 means nothing of substance could be improved; 0.8 means good, with only minor issues; 0.5 means it has significant problems; 0.2 or below means it is mostly wrong or off-task. Be strict and do not reward length.

Reply with the score (a number from 0 to 1) on the first line, then your reasons: a list of the specific weaknesses to fix, most important first, and what should be kept.`;

const REFINE_PROMPT = `Improve the draft below using the evaluation of it.

Request:
{{ original }}

Current draft:
{{ draft }}

Evaluation (a score from 0 to 1, then the reasons):
{{ previous }}

Rewrite the draft so that it fixes every weakness the evaluation names while keeping what it says works. Reply with the complete revised answer only: no preamble and no notes on what you changed.`;

export const refinementFlowTemplate: FlowTemplate = defineFlowTemplate<RefinementFlowParams>({
  name: "createRefinementFlow",
  alias: "refinement",
  description:
    "A model writes a draft; an evaluator scores it from 0 to 1 and the model revises it, repeating until the score reaches the threshold or the iterations run out.",
  flowType: OrchestrationFlowType.REFINEMENT,
  parameters: {
    maxIterations: {
      schema: z.number().int().min(1).max(FLOW_LIMITS.maxIterations),
      type: "integer",
      description: `At most this many evaluations (1–${FLOW_LIMITS.maxIterations}).`,
      default: DEFAULT_MAX_ITERATIONS,
    },
    qualityThreshold: {
      schema: z.number().min(0).max(1),
      type: "number",
      description: "The evaluator's score (0–1) at which a draft is accepted.",
      default: DEFAULT_QUALITY_THRESHOLD,
    },
    provider: providerParam(
      "Provider of the model that writes and revises the draft.",
      DEFAULT_TEMPLATE_MODELS.openai.provider,
    ),
    model: modelParam("Model that writes and revises the draft.", DEFAULT_TEMPLATE_MODELS.openai.model),
    evaluator: providerModelParam("The model that scores each draft. Default: the writing model."),
  },
  build(p) {
    const writer = { provider: p.provider, model: p.model };
    const evaluator = p.evaluator ?? writer;
    return {
      name: "Refinement",
      description: `${modelLabel(writer)} drafts and revises until ${modelLabel(evaluator)} scores it at least ${p.qualityThreshold} (at most ${p.maxIterations} evaluations).`,
      type: OrchestrationFlowType.REFINEMENT,
      maxIterations: p.maxIterations,
      qualityThreshold: p.qualityThreshold,
      steps: [
        modelStep("generate", writer, StepAction.GENERATE, GENERATE_PROMPT, { name: "First draft" }),
        modelStep("evaluate", evaluator, StepAction.EVALUATE, EVALUATE_PROMPT, { name: "Evaluation" }),
        modelStep("refine", writer, StepAction.REFINE, REFINE_PROMPT, { name: "Revised draft" }),
      ],
    };
  },
});

/** generate → evaluate → refine, with evaluate → refine repeated until the score reaches `qualityThreshold` or `maxIterations` evaluations were made. */
export function createRefinementFlow(
  maxIterations: number = DEFAULT_MAX_ITERATIONS,
  qualityThreshold: number = DEFAULT_QUALITY_THRESHOLD,
  provider: string = DEFAULT_TEMPLATE_MODELS.openai.provider,
  model: string = DEFAULT_TEMPLATE_MODELS.openai.model,
  evaluator?: ProviderModel,
): FlowDefinitionInput {
  return refinementFlowTemplate.build({ maxIterations, qualityThreshold, provider, model, evaluator });
}
