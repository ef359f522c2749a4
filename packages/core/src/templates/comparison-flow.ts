import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput, ProviderModel } from "../schema/flow-definition.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import {
  DEFAULT_TEMPLATE_MODELS,
  modelLabel,
  modelStep,
  providerModelListParam,
  providerModelParam,
} from "./template-parts.js";

export interface ComparisonFlowParams {
  models: ProviderModel[];
  aggregator?: ProviderModel;
}

export interface ComparisonFlowOptions {
  /** The model that compares the answers. Default: the first of `models`. */
  aggregator?: ProviderModel;
}

const DEFAULT_COMPARISON_MODELS: readonly ProviderModel[] = [
  DEFAULT_TEMPLATE_MODELS.openai,
  DEFAULT_TEMPLATE_MODELS.anthropic,
  DEFAULT_TEMPLATE_MODELS.google,
];

const COMPARE_PROMPT = `Several AI models answered the same request independently. Compare their answers.

Request:
{{ original }}

Answers:
{{ all }}

1. For each answer, summarise its approach in one or two sentences and name its strengths and weaknesses (accuracy, completeness, clarity).
2. List the points on which the answers agree, then every point on which they disagree, saying which answer is right wherever that can be determined.
3. Say which answer is best overall, and why.
4. Finish, under the heading "Best answer", with a single answer to the request that combines the strengths of the answers and corrects their errors.`;

export const comparisonFlowTemplate: FlowTemplate = defineFlowTemplate<ComparisonFlowParams>({
  name: "createComparisonFlow",
  alias: "comparison",
  description:
    "Several models answer the same request in parallel; an aggregating step compares the answers and writes the best one.",
  flowType: OrchestrationFlowType.PARALLEL,
  parameters: {
    models: providerModelListParam(
      "The models that answer, one parallel step each (answer_1, answer_2, …).",
      DEFAULT_COMPARISON_MODELS,
    ),
    aggregator: providerModelParam("The model that compares the answers. Default: the first of models."),
  },
  build(p) {
    // The schema guarantees at least two models; the last fallback only satisfies the type checker.
    const aggregator = p.aggregator ?? p.models[0] ?? DEFAULT_TEMPLATE_MODELS.openai;
    return {
      name: "Comparison",
      description: `${p.models.map(modelLabel).join(", ")} answer in parallel; ${modelLabel(aggregator)} compares.`,
      type: OrchestrationFlowType.PARALLEL,
      steps: [
        // The bare "original": each model answers the user's request itself, unprompted by the others.
        ...p.models.map((m, i) =>
          modelStep(`answer_${i + 1}`, m, StepAction.GENERATE, "original", { name: `Answer ${i + 1}` }),
        ),
        modelStep("compare", aggregator, StepAction.COMPARE, COMPARE_PROMPT, { name: "Comparison", aggregate: true }),
      ],
    };
  },
});

/** One parallel step per model answering the original request, then an aggregate `compare` step that sees every answer. */
export function createComparisonFlow(
  models: ProviderModel[] = DEFAULT_COMPARISON_MODELS.map((m) => ({ ...m })),
  options: ComparisonFlowOptions = {},
): FlowDefinitionInput {
  return comparisonFlowTemplate.build({ models, ...options });
}
