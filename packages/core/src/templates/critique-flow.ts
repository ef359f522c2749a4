import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput } from "../schema/flow-definition.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import { DEFAULT_TEMPLATE_MODELS, modelLabel, modelParam, modelStep, providerParam } from "./template-parts.js";

export interface CritiqueFlowParams {
  generatorProvider: string;
  generatorModel: string;
  criticProvider: string;
  criticModel: string;
}

const GENERATE_PROMPT = `Respond to the request below. Give a complete, accurate and well-organised answer, and state any assumption you make.

Request:
{{ original }}`;

const CRITIQUE_PROMPT = `You are reviewing a draft answer that another AI model wrote for the request below.

Request:
{{ original }}

Draft answer:
{{ steps.generate.output }}

Write a critique of the draft. List, most important first, every factual error, logical flaw, omission, part of the request left unanswered, and unclear or badly structured passage. For each, quote or point to the passage concerned and say specifically how to fix it. Then note briefly what the draft does well and should keep. Do not rewrite the answer yourself.`;

const REFINE_PROMPT = `Revise your draft answer to the request below using the reviewer's critique.

Request:
{{ original }}

Your draft:
{{ steps.generate.output }}

Critique:
{{ steps.critique.output }}

Write the improved answer. Fix every point of the critique that is valid; where a point is mistaken, keep your version. Keep what the critique says works. Reply with the complete final answer only: no preamble and no list of changes.`;

export const critiqueFlowTemplate: FlowTemplate = defineFlowTemplate<CritiqueFlowParams>({
  name: "createCritiqueFlow",
  alias: "critique",
  description:
    "One model generates an answer, a second model critiques it, and the first refines its answer using the critique.",
  flowType: OrchestrationFlowType.CRITIQUE,
  parameters: {
    generatorProvider: providerParam(
      "Provider of the model that writes and then refines the answer.",
      DEFAULT_TEMPLATE_MODELS.openai.provider,
    ),
    generatorModel: modelParam("Model that writes and then refines the answer.", DEFAULT_TEMPLATE_MODELS.openai.model),
    criticProvider: providerParam(
      "Provider of the model that critiques the draft.",
      DEFAULT_TEMPLATE_MODELS.anthropic.provider,
    ),
    criticModel: modelParam("Model that critiques the draft.", DEFAULT_TEMPLATE_MODELS.anthropic.model),
  },
  build(p) {
    const generator = { provider: p.generatorProvider, model: p.generatorModel };
    const critic = { provider: p.criticProvider, model: p.criticModel };
    return {
      name: "Critique",
      description: `${modelLabel(generator)} drafts, ${modelLabel(critic)} critiques, ${modelLabel(generator)} refines.`,
      type: OrchestrationFlowType.CRITIQUE,
      steps: [
        modelStep("generate", generator, StepAction.GENERATE, GENERATE_PROMPT, { name: "Draft" }),
        modelStep("critique", critic, StepAction.CRITIQUE, CRITIQUE_PROMPT, { name: "Critique" }),
        modelStep("refine", generator, StepAction.REFINE, REFINE_PROMPT, { name: "Refined answer" }),
      ],
    };
  },
});

/** generate → critique (another model) → refine (the generator, seeing its draft and the critique). */
export function createCritiqueFlow(
  generatorProvider: string = DEFAULT_TEMPLATE_MODELS.openai.provider,
  generatorModel: string = DEFAULT_TEMPLATE_MODELS.openai.model,
  criticProvider: string = DEFAULT_TEMPLATE_MODELS.anthropic.provider,
  criticModel: string = DEFAULT_TEMPLATE_MODELS.anthropic.model,
): FlowDefinitionInput {
  return critiqueFlowTemplate.build({ generatorProvider, generatorModel, criticProvider, criticModel });
}
