// @ensemble/sdk — the typed client backend services use to run flows on an Ensemble
// cluster, shaped as an `orchestratorService` (docs: packages/sdk/README.md).
export { EnsembleClient, createEnsembleClient, type EnsembleClientOptions } from "./ensemble-client.js";
export {
  EnsembleApiError,
  isEnsembleApiError,
  type EnsembleErrorCode,
  type EnsembleErrorDetail,
} from "./errors/ensemble-api-error.js";
export { EnsembleConnectionError } from "./errors/ensemble-connection-error.js";
export { FlowExecutionError } from "./errors/flow-execution-error.js";
export type {
  DataSharingPolicy,
  DataSharingPolicySettings,
  ExecuteFlowOptions,
  ExecuteStepOptions,
  Flow,
  FlowList,
  FlowStatus,
  IsoDate,
  ListFlowsOptions,
  ListFlowStepsOptions,
  Message,
  NewMessage,
  NewSchedule,
  Schedule,
  ScheduleFiring,
  Usage,
  UsageGroupBy,
  UsageOptions,
  UsageTotals,
  StepPage,
  StreamEventsOptions,
  Thread,
  ThreadList,
  ThreadMember,
  ThreadPermission,
} from "./types.js";

// The templates, enums and types, from @ensemble/core (one definition, not a copy).
export {
  createCritiqueFlow,
  createComparisonFlow,
  createRefinementFlow,
  createSequentialAnalysisFlow,
  createConditionalRoutingFlow,
  createConsensusFlow,
  createQualityAssuranceFlow,
  OrchestrationFlowStatus,
  OrchestrationFlowType,
  OrchestrationStepStatus,
  StepAction,
  DEFAULT_CONTEXT_POLICY,
  TERMINAL_FLOW_STATUSES,
  TERMINAL_FLOW_EVENT_TYPES,
  isTerminalFlowStatus,
  isTerminalFlowEvent,
} from "@ensemble/core";
export type {
  ContextPolicy,
  FlowDefinition,
  FlowDefinitionInput,
  FlowEventData,
  FlowEventType,
  FlowStreamUpdateOf,
  FlowExecutionResult,
  FlowStep,
  FlowStepResult,
  FlowStreamUpdate,
  FlowTemplateDescription,
  MessageRole,
  ProviderModel,
  StepSettings,
  TimeoutConfig,
  TokenUsage,
} from "@ensemble/core";
