import type { OrchestrationFlowType } from "../schema/enums.js";
import { comparisonFlowTemplate } from "./comparison-flow.js";
import { conditionalRoutingFlowTemplate } from "./conditional-routing-flow.js";
import { consensusFlowTemplate } from "./consensus-flow.js";
import { critiqueFlowTemplate } from "./critique-flow.js";
import type { FlowTemplate, TemplateParameter } from "./flow-template.js";
import { qualityAssuranceFlowTemplate } from "./quality-assurance-flow.js";
import { refinementFlowTemplate } from "./refinement-flow.js";
import { sequentialAnalysisFlowTemplate } from "./sequential-analysis-flow.js";

/** The seven pre-built templates, keyed by their SDK builder names, in the order docs/flow-definitions.md lists them. */
export const FLOW_TEMPLATES = {
  createCritiqueFlow: critiqueFlowTemplate,
  createComparisonFlow: comparisonFlowTemplate,
  createRefinementFlow: refinementFlowTemplate,
  createSequentialAnalysisFlow: sequentialAnalysisFlowTemplate,
  createConditionalRoutingFlow: conditionalRoutingFlowTemplate,
  createConsensusFlow: consensusFlowTemplate,
  createQualityAssuranceFlow: qualityAssuranceFlowTemplate,
} as const satisfies Record<string, FlowTemplate>;

export type FlowTemplateName = keyof typeof FLOW_TEMPLATES;

const BY_NAME_OR_ALIAS: ReadonlyMap<string, FlowTemplate> = new Map(
  Object.values(FLOW_TEMPLATES).flatMap((template) => [
    [template.name, template],
    [template.alias, template],
  ]),
);

/** A template by its seed function name (`createCritiqueFlow`) or kebab-case alias (`critique`); null when there is none. */
export function findFlowTemplate(name: string): FlowTemplate | null {
  return BY_NAME_OR_ALIAS.get(name) ?? null;
}

/** A template without its builder: what `GET /v1/templates` lists. */
export interface FlowTemplateDescription {
  name: string;
  alias: string;
  description: string;
  flowType: OrchestrationFlowType;
  parameters: readonly TemplateParameter[];
}

export function describeFlowTemplates(): FlowTemplateDescription[] {
  return Object.values(FLOW_TEMPLATES).map(({ name, alias, description, flowType, parameters }) => ({
    name,
    alias,
    description,
    flowType,
    parameters: structuredClone(parameters),
  }));
}
