import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput, ProviderModel } from "../schema/flow-definition.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import { DEFAULT_TEMPLATE_MODELS, modelStep, providerModelParam } from "./template-parts.js";

export interface QualityAssuranceFlowOptions {
  /** Writes the response. Default: openai/gpt-4o. */
  generator?: ProviderModel;
  /** Checks accuracy. Default: anthropic/claude-sonnet-4-5. */
  accuracyChecker?: ProviderModel;
  /** Checks clarity. Default: google/gemini-2.5-pro. */
  clarityChecker?: ProviderModel;
  /** Gives the final verdict. Default: anthropic/claude-sonnet-4-5. */
  judge?: ProviderModel;
}

type QualityAssuranceFlowParams = Required<QualityAssuranceFlowOptions>;

const GENERATE_PROMPT = `Respond to the request below. Give a complete, accurate and well-organised answer, and state any assumption you make.

Request:
{{ original }}`;

const ACCURACY_PROMPT = `Check the accuracy and correctness of the response below to the request. Clarity and style are reviewed separately; ignore them.

Request:
{{ original }}

Response:
{{ steps.generate.output }}

List every statement that is false, unsupported, outdated or misleading, every error in a calculation, code or reasoning, and every part of the request that the response fails to address. For each, point to the passage concerned and give the correction. If you find no problem, say so explicitly.`;

const CLARITY_PROMPT = `Review the clarity of the response below to the request. Accuracy is checked separately; ignore it.

Request:
{{ original }}

Response:
{{ steps.generate.output }}

Judge whether the person who asked can follow it easily: structure and order, length for what was asked, ambiguous or confusing sentences, undefined jargon, and formatting. List each concrete problem with the passage concerned and a suggested rewrite. If the response is already clear, say so explicitly.`;

// A fixed first line lets callers branch on the outcome (e.g. a condition `previous.startsWith("PASS")`).
const VERDICT_PROMPT = `Decide whether the response below is ready to deliver, using the two reviews of it.

Request:
{{ original }}

Response:
{{ steps.generate.output }}

Accuracy review:
{{ steps.check_accuracy.output }}

Clarity review:
{{ steps.check_clarity.output }}

On the first line write exactly PASS (ready to deliver as it is, or with trivial edits) or FAIL (it has an accuracy problem, or a clarity problem serious enough to mislead or lose the reader). Then justify the verdict in two or three sentences, discounting review points that are themselves mistaken. For FAIL, end with a numbered list of the changes required, most important first.`;

export const qualityAssuranceFlowTemplate: FlowTemplate = defineFlowTemplate<QualityAssuranceFlowParams>({
  name: "createQualityAssuranceFlow",
  alias: "quality-assurance",
  description:
    "One model writes a response; others check its accuracy and its clarity; a judge gives a PASS/FAIL verdict with the changes required.",
  flowType: OrchestrationFlowType.SEQUENTIAL,
  parameters: {
    generator: providerModelParam("The model that writes the response.", DEFAULT_TEMPLATE_MODELS.openai),
    accuracyChecker: providerModelParam("The model that checks accuracy.", DEFAULT_TEMPLATE_MODELS.anthropic),
    clarityChecker: providerModelParam("The model that checks clarity.", DEFAULT_TEMPLATE_MODELS.google),
    judge: providerModelParam("The model that gives the final verdict.", DEFAULT_TEMPLATE_MODELS.anthropic),
  },
  build(p) {
    return {
      name: "Quality Assurance",
      description: "Generate → check accuracy → check clarity → final verdict.",
      type: OrchestrationFlowType.SEQUENTIAL,
      steps: [
        modelStep("generate", p.generator, StepAction.GENERATE, GENERATE_PROMPT, { name: "Response" }),
        modelStep("check_accuracy", p.accuracyChecker, StepAction.VALIDATE, ACCURACY_PROMPT, {
          name: "Accuracy check",
        }),
        modelStep("check_clarity", p.clarityChecker, StepAction.EVALUATE, CLARITY_PROMPT, { name: "Clarity check" }),
        modelStep("final_verdict", p.judge, StepAction.EVALUATE, VERDICT_PROMPT, { name: "Final verdict" }),
      ],
    };
  },
});

/** generate → check_accuracy → check_clarity → final_verdict (first line PASS or FAIL). The flow's output is the verdict. */
export function createQualityAssuranceFlow(options: QualityAssuranceFlowOptions = {}): FlowDefinitionInput {
  return qualityAssuranceFlowTemplate.build(options);
}
