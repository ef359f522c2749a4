import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput, ProviderModel } from "../schema/flow-definition.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import { DEFAULT_TEMPLATE_MODELS, modelStep, providerModelParam } from "./template-parts.js";

export interface SequentialAnalysisFlowOptions {
  /** Extracts the factual claims. Default: openai/gpt-4o. */
  extractor?: ProviderModel;
  /** Analyses the reasoning. Default: anthropic/claude-sonnet-4-5. */
  analyst?: ProviderModel;
  /** Evaluates credibility. Default: google/gemini-2.5-pro. */
  evaluator?: ProviderModel;
  /** Writes the final assessment. Default: openai/gpt-4o. */
  synthesizer?: ProviderModel;
}

type SequentialAnalysisFlowParams = Required<SequentialAnalysisFlowOptions>;

const EXTRACT_PROMPT = `Extract the factual content of the material below.

Material:
{{ original }}

List every factual claim it makes as a numbered list, one claim per line, stated neutrally and as close to the original wording as possible. Keep figures, dates, names and cited sources exactly as given. List opinions, predictions and value judgements separately, under the heading "Opinions and predictions". Do not judge yet whether anything is true.`;

const ANALYZE_PROMPT = `Analyse the reasoning of the material below.

Material:
{{ original }}

Claims extracted from it:
{{ steps.extract_facts.output }}

Identify its main conclusions and the argument offered for each. For each argument, say whether the conclusion follows from its premises, and name any logical fallacy, unstated assumption, missing step, internal contradiction or misleading framing, pointing to the passage concerned. Do not judge whether the individual facts are true; that is the next step.`;

const EVALUATE_PROMPT = `Evaluate the credibility of the material below.

Material:
{{ original }}

Claims extracted from it:
{{ steps.extract_facts.output }}

Analysis of its reasoning:
{{ steps.analyze_logic.output }}

For each numbered claim, rate it as well supported, plausible, doubtful or false, judging from your own knowledge and from the sources the material cites, with a one-line reason. Point out claims that cannot be verified, missing or weak sources, and signs of bias or conflict of interest. End with an overall credibility rating (high, medium or low) and a short justification.`;

const SYNTHESIZE_PROMPT = `Write the final assessment of the material below from the three reviews that follow.

Material:
{{ original }}

Extracted claims:
{{ steps.extract_facts.output }}

Analysis of the reasoning:
{{ steps.analyze_logic.output }}

Credibility evaluation:
{{ steps.evaluate_credibility.output }}

Structure the assessment as: a one-paragraph summary of what the material claims; its main strengths; its main weaknesses, factual and logical; an overall verdict on how far it can be trusted; and what a reader should verify before relying on it. Be concise and specific, and add no claims that the reviews do not support.`;

export const sequentialAnalysisFlowTemplate: FlowTemplate = defineFlowTemplate<SequentialAnalysisFlowParams>({
  name: "createSequentialAnalysisFlow",
  alias: "sequential-analysis",
  description:
    "Analyses a text in four steps, each on a different model: extract facts → analyse logic → evaluate credibility → synthesise.",
  flowType: OrchestrationFlowType.SEQUENTIAL,
  parameters: {
    extractor: providerModelParam("The model that extracts the factual claims.", DEFAULT_TEMPLATE_MODELS.openai),
    analyst: providerModelParam("The model that analyses the reasoning.", DEFAULT_TEMPLATE_MODELS.anthropic),
    evaluator: providerModelParam("The model that evaluates credibility.", DEFAULT_TEMPLATE_MODELS.google),
    synthesizer: providerModelParam("The model that writes the final assessment.", DEFAULT_TEMPLATE_MODELS.openai),
  },
  build(p) {
    return {
      name: "Sequential Analysis",
      description: "Extract facts → analyse logic → evaluate credibility → synthesise.",
      type: OrchestrationFlowType.SEQUENTIAL,
      steps: [
        modelStep("extract_facts", p.extractor, StepAction.EXTRACT, EXTRACT_PROMPT, { name: "Extracted facts" }),
        modelStep("analyze_logic", p.analyst, StepAction.ANALYZE, ANALYZE_PROMPT, { name: "Logic analysis" }),
        modelStep("evaluate_credibility", p.evaluator, StepAction.EVALUATE, EVALUATE_PROMPT, {
          name: "Credibility evaluation",
        }),
        modelStep("synthesize", p.synthesizer, StepAction.SUMMARIZE, SYNTHESIZE_PROMPT, { name: "Assessment" }),
      ],
    };
  },
});

/** extract_facts → analyze_logic → evaluate_credibility → synthesize, each step seeing the earlier ones it needs. */
export function createSequentialAnalysisFlow(options: SequentialAnalysisFlowOptions = {}): FlowDefinitionInput {
  return sequentialAnalysisFlowTemplate.build(options);
}
