// @ensemble/core — the pure flow engine: schemas, validation, templates, conditions, planner, context policy, cost. No I/O.
export * from "./schema/enums.js";
export * from "./schema/limits.js";
export * from "./schema/context-policy.js";
export * from "./schema/flow-definition.js";
export * from "./schema/results.js";
export * from "./schema/flow-events.js";
export * from "./batch/batch-deadline.js";
export * from "./batch/run-delivery.js";
export * from "./errors/validation-error.js";
export * from "./errors/zod-issues.js";
export * from "./template/prompt-template.js";
export * from "./template/placeholders.js";
export * from "./condition/condition-expression.js";
export * from "./text/storable-text.js";
export * from "./text/redact-secrets.js";
export * from "./hooks/hook-registry.js";
export type * from "./validation/compiled-flow.js";
export {
  compileFlow,
  compileFlowOrThrow,
  type CompileFlowOptions,
  type CompileFlowResult,
} from "./validation/compile-flow.js";
export { DEFAULT_MAX_ITERATIONS, DEFAULT_QUALITY_THRESHOLD } from "./validation/compile-loop.js";
export { compileSingleStep, singleStepDefinition } from "./validation/single-step.js";
export * from "./validation/step-overrides.js";
export { checkApprovalData } from "./validation/compile-approval.js";
export * from "./planner/index.js";
export * from "./context/index.js";
export { createCritiqueFlow, type CritiqueFlowParams } from "./templates/critique-flow.js";
export {
  createComparisonFlow,
  type ComparisonFlowOptions,
  type ComparisonFlowParams,
} from "./templates/comparison-flow.js";
export { createRefinementFlow, type RefinementFlowParams } from "./templates/refinement-flow.js";
export {
  createSequentialAnalysisFlow,
  type SequentialAnalysisFlowOptions,
} from "./templates/sequential-analysis-flow.js";
export {
  createConditionalRoutingFlow,
  type ConditionalRoutingFlowOptions,
} from "./templates/conditional-routing-flow.js";
export { createConsensusFlow, type ConsensusFlowOptions } from "./templates/consensus-flow.js";
export { createQualityAssuranceFlow, type QualityAssuranceFlowOptions } from "./templates/quality-assurance-flow.js";
export { DEFAULT_TEMPLATE_MODELS } from "./templates/template-parts.js";
export type { FlowTemplate, TemplateParameter } from "./templates/flow-template.js";
export {
  FLOW_TEMPLATES,
  findFlowTemplate,
  describeFlowTemplates,
  type FlowTemplateName,
  type FlowTemplateDescription,
} from "./templates/template-catalog.js";
export {
  ANY_MODEL,
  PriceSchema,
  PriceTableSchema,
  parsePriceTable,
  mergePriceTables,
  type Price,
  type PriceTable,
} from "./cost/price-table.js";
export { DEFAULT_PRICE_TABLE } from "./cost/default-price-table.js";
export { normalizeModelName } from "./cost/model-name.js";
export { findPrice } from "./cost/find-price.js";
export { computeCost, type CostResult } from "./cost/compute-cost.js";
export { estimateCutOffUsage, estimateTokens, EXACT_COUNT_CHARS } from "./cost/estimate-cut-off-usage.js";
// The HTTP contract: the routes an API key calls, with their request and response schemas.
export * from "./contract/http-route.js";
export * from "./contract/request-schemas.js";
export * from "./contract/response-schemas.js";
export * as apiContract from "./contract/api-contract.js";
