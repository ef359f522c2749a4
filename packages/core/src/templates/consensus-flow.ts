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

export interface ConsensusFlowOptions {
  /** The models that propose answers, in parallel. Default: openai/gpt-4o, anthropic/claude-sonnet-4-5, google/gemini-2.5-pro. */
  proposers?: ProviderModel[];
  /** The model that builds the consensus. Default: anthropic/claude-sonnet-4-5. */
  moderator?: ProviderModel;
}

type ConsensusFlowParams = Required<ConsensusFlowOptions>;

const DEFAULT_PROPOSERS: readonly ProviderModel[] = [
  DEFAULT_TEMPLATE_MODELS.openai,
  DEFAULT_TEMPLATE_MODELS.anthropic,
  DEFAULT_TEMPLATE_MODELS.google,
];

const PROPOSE_PROMPT = `Give your best answer to the request below. Start with a short list of the key points of your position, then explain your reasoning for each. Say plainly where you are uncertain and why.

Request:
{{ original }}`;

const CONSENSUS_PROMPT = `Several AI models proposed answers to the same request independently. Build a consensus from their proposals.

Request:
{{ original }}

Proposals:
{{ all }}

First, list the points on which all or most proposals agree. Then list every point of disagreement; for each, weigh the arguments and decide which position is best supported, saying why. Finally, under the heading "Consensus", write the consensus answer to the request: it rests on the points of agreement, resolves each disagreement as you decided, adds nothing that no proposal supports, and says plainly where real uncertainty remains.`;

export const consensusFlowTemplate: FlowTemplate = defineFlowTemplate<ConsensusFlowParams>({
  name: "createConsensusFlow",
  alias: "consensus",
  description:
    "Several models propose answers in parallel; a moderator model builds a consensus answer from the proposals.",
  flowType: OrchestrationFlowType.PARALLEL,
  parameters: {
    proposers: providerModelListParam(
      "The models that propose answers, one parallel step each (propose_1, propose_2, …).",
      DEFAULT_PROPOSERS,
    ),
    moderator: providerModelParam("The model that builds the consensus.", DEFAULT_TEMPLATE_MODELS.anthropic),
  },
  build(p) {
    return {
      name: "Consensus",
      description: `${p.proposers.map(modelLabel).join(", ")} propose; ${modelLabel(p.moderator)} builds the consensus.`,
      type: OrchestrationFlowType.PARALLEL,
      steps: [
        ...p.proposers.map((m, i) =>
          modelStep(`propose_${i + 1}`, m, StepAction.GENERATE, PROPOSE_PROMPT, { name: `Proposal ${i + 1}` }),
        ),
        modelStep("build_consensus", p.moderator, StepAction.COMPARE, CONSENSUS_PROMPT, {
          name: "Consensus",
          aggregate: true,
        }),
      ],
    };
  },
});

/** propose_1 … propose_n in parallel, then an aggregate `build_consensus` step that sees every proposal. */
export function createConsensusFlow(options: ConsensusFlowOptions = {}): FlowDefinitionInput {
  return consensusFlowTemplate.build(options);
}
