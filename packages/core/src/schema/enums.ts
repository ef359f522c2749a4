import { z } from "zod";

/** What a step does; it chooses the default system prompt and, for some flow types, the step's role. */
export const StepAction = {
  GENERATE: "generate",
  CRITIQUE: "critique",
  REFINE: "refine",
  SUMMARIZE: "summarize",
  ANALYZE: "analyze",
  COMPARE: "compare",
  EVALUATE: "evaluate",
  VALIDATE: "validate",
  EXTRACT: "extract",
  TRANSFORM: "transform",
} as const;
export const StepActionSchema = z.enum(Object.values(StepAction) as [StepAction, ...StepAction[]]);
export type StepAction = (typeof StepAction)[keyof typeof StepAction];

export const OrchestrationFlowType = {
  SEQUENTIAL: "sequential",
  PARALLEL: "parallel",
  CONDITIONAL: "conditional",
  CRITIQUE: "critique",
  REFINEMENT: "refinement",
} as const;
export const OrchestrationFlowTypeSchema = z.enum(
  Object.values(OrchestrationFlowType) as [OrchestrationFlowType, ...OrchestrationFlowType[]],
);
export type OrchestrationFlowType = (typeof OrchestrationFlowType)[keyof typeof OrchestrationFlowType];

export const OrchestrationFlowStatus = {
  PENDING: "pending",
  QUEUED: "queued",
  RUNNING: "running",
  COMPLETED: "completed",
  FAILED: "failed",
  CANCELLED: "cancelled",
  TIMED_OUT: "timed_out",
} as const;
export const OrchestrationFlowStatusSchema = z.enum(
  Object.values(OrchestrationFlowStatus) as [OrchestrationFlowStatus, ...OrchestrationFlowStatus[]],
);
export type OrchestrationFlowStatus = (typeof OrchestrationFlowStatus)[keyof typeof OrchestrationFlowStatus];

export const OrchestrationStepStatus = {
  PENDING: "pending",
  RUNNING: "running",
  SUCCESS: "success",
  FAILED: "failed",
  SKIPPED: "skipped",
  CANCELLED: "cancelled",
} as const;
export const OrchestrationStepStatusSchema = z.enum(
  Object.values(OrchestrationStepStatus) as [OrchestrationStepStatus, ...OrchestrationStepStatus[]],
);
export type OrchestrationStepStatus = (typeof OrchestrationStepStatus)[keyof typeof OrchestrationStepStatus];

/** Flow statuses after which nothing more happens to a run. */
export const TERMINAL_FLOW_STATUSES: readonly OrchestrationFlowStatus[] = [
  "completed",
  "failed",
  "cancelled",
  "timed_out",
];

export function isTerminalFlowStatus(status: OrchestrationFlowStatus): boolean {
  return TERMINAL_FLOW_STATUSES.includes(status);
}
