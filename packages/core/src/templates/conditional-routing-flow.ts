import { OrchestrationFlowType, StepAction } from "../schema/enums.js";
import type { FlowDefinitionInput, ProviderModel } from "../schema/flow-definition.js";
import { defineFlowTemplate, type FlowTemplate } from "./flow-template.js";
import { DEFAULT_TEMPLATE_MODELS, modelStep, providerModelParam } from "./template-parts.js";

export interface ConditionalRoutingFlowOptions {
  /** Classifies the request. Default: openai/gpt-4o-mini. */
  classifier?: ProviderModel;
  /** Answers TECHNICAL requests. Default: openai/gpt-4o. */
  technical?: ProviderModel;
  /** Answers CREATIVE requests. Default: anthropic/claude-sonnet-4-5. */
  creative?: ProviderModel;
  /** Answers ANALYTICAL requests, and any the classifier failed to label. Default: google/gemini-2.5-pro. */
  analytical?: ProviderModel;
}

type ConditionalRoutingFlowParams = Required<ConditionalRoutingFlowOptions>;

const CLASSIFY_PROMPT = `Classify the request below into exactly one of these categories:
TECHNICAL: programming, software, engineering, mathematics, science, or troubleshooting a system or device.
CREATIVE: stories, poetry, scripts, marketing copy, naming, brainstorming, or other imaginative writing.
ANALYTICAL: analysing data, arguments or documents, comparisons, business, legal or policy questions, planning and decisions.
If the request fits several, choose the category of its main goal.

Request:
{{ original }}

Answer with exactly one label, TECHNICAL, CREATIVE or ANALYTICAL, and nothing else.`;

/**
 * Exactly one expert runs: the conditions are mutually exclusive and
 * exhaustive, with TECHNICAL first and ANALYTICAL catching an answer that
 * names no label (a model that replies "Technical." or explains itself must
 * not leave the flow with no answer at all).
 */
export const ROUTING_CONDITIONS = {
  technical: 'previous.contains("TECHNICAL")',
  creative: 'previous.contains("CREATIVE") && !previous.contains("TECHNICAL")',
  analytical: '!previous.contains("TECHNICAL") && !previous.contains("CREATIVE")',
} as const;

const TECHNICAL_SYSTEM_PROMPT =
  "You are a senior engineer and scientist. Answer precisely and correctly, show working code or derivations where they help, name the assumptions you make, and flag anything you are unsure of.";
const CREATIVE_SYSTEM_PROMPT =
  "You are an accomplished writer. Produce original, vivid, well-crafted work that follows the brief's form, tone, audience and length exactly.";
const ANALYTICAL_SYSTEM_PROMPT =
  "You are a rigorous analyst. Break the question down, weigh the evidence and the alternatives, make your reasoning explicit, and end with a clear, actionable conclusion.";

export const conditionalRoutingFlowTemplate: FlowTemplate = defineFlowTemplate<ConditionalRoutingFlowParams>({
  name: "createConditionalRoutingFlow",
  alias: "conditional-routing",
  description:
    "A classifier labels the request TECHNICAL, CREATIVE or ANALYTICAL, and the matching expert model answers it.",
  flowType: OrchestrationFlowType.CONDITIONAL,
  parameters: {
    classifier: providerModelParam("The model that classifies the request.", DEFAULT_TEMPLATE_MODELS.openaiFast),
    technical: providerModelParam("The expert for TECHNICAL requests.", DEFAULT_TEMPLATE_MODELS.openai),
    creative: providerModelParam("The expert for CREATIVE requests.", DEFAULT_TEMPLATE_MODELS.anthropic),
    analytical: providerModelParam(
      "The expert for ANALYTICAL requests, and for any request the classifier did not label.",
      DEFAULT_TEMPLATE_MODELS.google,
    ),
  },
  build(p) {
    return {
      name: "Conditional Routing",
      description: "Classify the request → route it to the technical, creative or analytical expert.",
      type: OrchestrationFlowType.CONDITIONAL,
      steps: [
        modelStep("classify", p.classifier, StepAction.ANALYZE, CLASSIFY_PROMPT, { name: "Classification" }),
        // The experts get the user's request as is ("original"); the label is only for routing.
        modelStep("technical_expert", p.technical, StepAction.GENERATE, "original", {
          name: "Technical expert",
          systemPrompt: TECHNICAL_SYSTEM_PROMPT,
          condition: ROUTING_CONDITIONS.technical,
          settings: { temperature: 0.3 },
        }),
        modelStep("creative_expert", p.creative, StepAction.GENERATE, "original", {
          name: "Creative expert",
          systemPrompt: CREATIVE_SYSTEM_PROMPT,
          condition: ROUTING_CONDITIONS.creative,
          settings: { temperature: 0.8 },
        }),
        modelStep("analytical_expert", p.analytical, StepAction.GENERATE, "original", {
          name: "Analytical expert",
          systemPrompt: ANALYTICAL_SYSTEM_PROMPT,
          condition: ROUTING_CONDITIONS.analytical,
          settings: { temperature: 0.4 },
        }),
      ],
    };
  },
});

/** classify → exactly one of technical_expert / creative_expert / analytical_expert, chosen by CEL conditions on the label. */
export function createConditionalRoutingFlow(options: ConditionalRoutingFlowOptions = {}): FlowDefinitionInput {
  return conditionalRoutingFlowTemplate.build(options);
}
