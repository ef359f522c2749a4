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
  /** Nothing runs: the run waits for a person's decision on an approval step. */
  WAITING: "waiting",
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
  /** An approval step waiting for a person's decision (no worker, no lease, no job). */
  WAITING: "waiting",
  /** A `delivery: "batch"` step handed to a provider batch (no worker, no lease, no job). */
  BATCHED: "batched",
  SUCCESS: "success",
  FAILED: "failed",
  SKIPPED: "skipped",
  CANCELLED: "cancelled",
} as const;
export const OrchestrationStepStatusSchema = z.enum(
  Object.values(OrchestrationStepStatus) as [OrchestrationStepStatus, ...OrchestrationStepStatus[]],
);
export type OrchestrationStepStatus = (typeof OrchestrationStepStatus)[keyof typeof OrchestrationStepStatus];

/** What a member of a thread may do there (its owner may do everything). */
export const ThreadPermissionSchema = z.enum(["read", "write", "delete"]);
export type ThreadPermission = z.infer<typeof ThreadPermissionSchema>;

/** Flow statuses after which nothing more happens to a run. */
export const TERMINAL_FLOW_STATUSES = [
  "completed",
  "failed",
  "cancelled",
  "timed_out",
] as const satisfies readonly OrchestrationFlowStatus[];
export type TerminalFlowStatus = (typeof TERMINAL_FLOW_STATUSES)[number];

export function isTerminalFlowStatus(status: string): status is TerminalFlowStatus {
  return (TERMINAL_FLOW_STATUSES as readonly string[]).includes(status);
}

/** How a model step is called: at once (`sync`, the default) or in a provider's half-price batch. */
export const StepDeliverySchema = z.enum(["sync", "batch"]);
export type StepDelivery = z.infer<typeof StepDeliverySchema>;

/** Step statuses after which an instance no longer changes. */
export const TERMINAL_STEP_STATUSES = [
  "success",
  "skipped",
  "failed",
  "cancelled",
] as const satisfies readonly OrchestrationStepStatus[];

const TERMINAL_STEP_STATUS_SET: ReadonlySet<string> = new Set(TERMINAL_STEP_STATUSES);

export function isTerminalStepStatus(status: string): boolean {
  return TERMINAL_STEP_STATUS_SET.has(status);
}

/**
 * A run's priority class: its step jobs inherit it. Within a class, each user's waiting
 * steps take turns with other users'; a waiting low or normal step is promoted a class as
 * it ages, so none starves.
 */
export const RunPrioritySchema = z.enum(["high", "normal", "low"]);
export type RunPriority = z.infer<typeof RunPrioritySchema>;

export function isRunPriority(value: string): value is RunPriority {
  return RunPrioritySchema.safeParse(value).success;
}
