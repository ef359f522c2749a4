import type {
  ApprovalDecision,
  ApprovalOutput,
  ContextPolicy,
  FlowDefinition,
  FlowExecutionResult,
  FlowStep,
  FlowStepResult,
  FlowStreamUpdate,
  MessageRole,
  OrchestrationFlowStatus,
  OrchestrationFlowType,
  OrchestrationStepStatus,
  RunPriority,
  StepDelivery,
  StepOverride,
  TimeoutConfig,
} from "@ensemble/core";

/** Timestamps are ISO 8601 strings, as the API sends them (`new Date(flow.createdAt)` for a Date). */
export type IsoDate = string;

export interface Thread {
  id: string;
  ownerId: string;
  title: string;
  createdAt: IsoDate;
}

export interface ThreadList {
  items: Thread[];
  total: number;
}

export type ThreadPermission = "read" | "write" | "delete";

export interface ThreadMember {
  threadId: string;
  userId: string;
  permissions: ThreadPermission[];
}

export interface Message {
  id: string;
  threadId: string;
  role: MessageRole;
  content: string;
  provider: string | null;
  /** A message a flow saved has `orchestrationFlowId` and `stepId`. */
  metadata: Record<string, unknown> | null;
  createdAt: IsoDate;
}

export interface NewMessage {
  role: MessageRole;
  content: string;
}

/** Per provider: what the calling user allows to be sent to it. */
export interface DataSharingPolicySettings {
  allowConversationHistory: boolean;
  allowCrossProviderContext: boolean;
  allowAttachments: boolean;
}

export interface DataSharingPolicy extends DataSharingPolicySettings {
  providerKey: string;
}

/** A stored flow with its definition and its run number. */
export interface Flow {
  id: string;
  threadId: string;
  name: string;
  description: string | null;
  flowType: OrchestrationFlowType;
  steps: FlowStep[];
  contextPolicy: ContextPolicy;
  definition: FlowDefinition;
  status: OrchestrationFlowStatus;
  /** How many times the flow was executed; events and results belong to the latest run. */
  run: number;
  /** The latest run's priority class (`normal` before the first execute). */
  priority: RunPriority;
  currentStepIndex: number;
  totalCost: number;
  totalTokens: number;
  createdAt: IsoDate;
  startedAt: IsoDate | null;
  completedAt: IsoDate | null;
  result: FlowExecutionResult | null;
  error: { code: string; message: string; stepId?: string } | null;
  /** The latest run's step results (`getFlow` only; not in `listFlows`). */
  stepResults?: FlowStepResult[];
}

export interface FlowList {
  items: Flow[];
  total: number;
}

/** One page of a flow's latest run's step results (`GET /v1/flows/:flowId/steps`). */
export interface StepPage {
  flowId: string;
  run: number;
  /** In `stepResults` order: iteration, then step. */
  items: FlowStepResult[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface ListFlowStepsOptions {
  cursor?: string;
  /** 1–100, default 20; a page also ends once its outputs reach 1 000 000 characters. */
  limit?: number;
}

export interface ListFlowsOptions {
  status?: OrchestrationFlowStatus;
  type?: OrchestrationFlowType;
  limit?: number;
  offset?: number;
  sortBy?: "createdAt" | "completedAt" | "name";
  sortOrder?: "ASC" | "DESC";
}

export interface FlowStatus {
  flowId: string;
  status: OrchestrationFlowStatus;
  /** 0–100. */
  progress: number;
  currentStepIndex: number;
  totalSteps: number;
  completedSteps: number;
  failedSteps: number;
  startedAt: IsoDate | null;
  completedAt: IsoDate | null;
  totalCost: number;
  totalTokens: number;
}

export interface ExecuteFlowOptions {
  /** The original prompt (`{{ original }}` in step prompts). */
  input?: string;
  metadata?: Record<string, unknown>;
  /** Save each step's output as a thread message. */
  saveMessages?: boolean;
  timeout?: TimeoutConfig;
  /** The run's priority class (default `normal`): its steps wait behind higher classes' and age upwards. */
  priority?: RunPriority;
  /** "batch": the run's model steps that set no delivery go in provider batches (half price, OpenAI and Anthropic). */
  delivery?: StepDelivery;
  /** With `delivery: "batch"`: how long those steps may wait for their batch (ms, or an ISO 8601 duration such as "PT6H"). */
  batchDeadline?: number | string;
  /** Follow the flow's events while it runs (implied by `onUpdate`). */
  streaming?: boolean;
  /** Called with each event of this run, in order, while it runs. */
  onUpdate?: (update: FlowStreamUpdate) => void;
  /** Stops waiting (the run goes on; `cancelFlow` stops it). */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key`: calling again with the same key and options starts nothing new and returns the first answer. */
  idempotencyKey?: string;
}

export interface ExecuteStepOptions {
  input?: string;
  metadata?: Record<string, unknown>;
  timeout?: TimeoutConfig;
  /** See ExecuteFlowOptions. */
  priority?: RunPriority;
  /** Sent as `Idempotency-Key` (see ExecuteFlowOptions). */
  idempotencyKey?: string;
  onUpdate?: (update: FlowStreamUpdate) => void;
  signal?: AbortSignal;
}

export interface StreamEventsOptions {
  /** Resume after this event id (0: the whole history). */
  lastEventId?: number;
  signal?: AbortSignal;
  /** Reconnect attempts in a row without receiving an event before giving up. Default 5. */
  maxReconnects?: number;
}

/** One run of a flow (`listRuns`). */
export interface RunSummary {
  run: number;
  status: OrchestrationFlowStatus;
  /** Set when the run executed this one step alone (`executeStep`). */
  onlyStepId: string | null;
  /** The run this one reran, and the step it reran from; null when it is not a rerun. */
  rerunOf: { run: number; fromStep: string } | null;
  /** USD; reused steps cost nothing. */
  totalCost: number;
  totalTokens: number;
  queuedAt: IsoDate | null;
  startedAt: IsoDate | null;
  completedAt: IsoDate | null;
  error: { code: string; message: string; stepId?: string } | null;
}

/** One run with the definition it executed and its step results (`getRun`). */
export interface RunDetail extends RunSummary {
  flowId: string;
  input: string | null;
  definition: FlowDefinition;
  finalOutput: string | null;
  /** Iteration, then step order; a reused step has `reusedFrom`. */
  steps: FlowStepResult[];
}

export interface RerunOptions {
  /** The step to run again; it and every step after it run, the others are reused. */
  fromStep: string;
  /** Changes to steps, by step id: provider, model, prompt, systemPrompt, settings, fallbacks. */
  overrides?: Record<string, StepOverride>;
  /** The original prompt; default the source run's. */
  input?: string;
  /** Default: the priority of the run it replaces. */
  priority?: RunPriority;
  /** Called with each event of the new run, in order, while it runs. */
  onUpdate?: (update: FlowStreamUpdate) => void;
  /** Stops waiting (the run goes on; `cancelFlow` stops it). */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key` (see ExecuteFlowOptions). */
  idempotencyKey?: string;
}

/** What one run did at one step instance (`compare`). */
export interface ComparedStep {
  status: OrchestrationStepStatus;
  provider: string;
  model: string;
  output: string | null;
  tokens: number;
  cost: number | null;
  latencyMs: number | null;
  reusedFrom: number | null;
}

/** Two runs side by side (`compare`). */
export interface RunComparison {
  flowId: string;
  runs: [number, number];
  steps: {
    stepId: string;
    iteration: number;
    /** One per run, in `runs` order; null where the run has no such step instance. */
    results: [ComparedStep | null, ComparedStep | null];
    /** Word-level diff from the first run's output to the second's. */
    diff: { kind: "same" | "added" | "removed"; text: string }[];
  }[];
  totals: {
    run: number;
    status: OrchestrationFlowStatus;
    totalCost: number;
    totalTokens: number;
    latencyMs: number | null;
  }[];
}

/** A decision on a waiting approval step. */
export interface ApprovalInput {
  decision: ApprovalDecision;
  /** Checked against the step's responseSchema (an approve must carry what it asks for). */
  data?: unknown;
  comment?: string;
}

/** A decided approval step: its output (`{ decision, data, comment, decidedBy, decidedAt }`) with where it was. */
export interface ApprovalDecided extends ApprovalOutput {
  flowId: string;
  stepId: string;
}

/** An approval step waiting for a decision the caller may take. */
export interface WaitingApproval {
  flowId: string;
  flowName: string;
  threadId: string;
  run: number;
  stepId: string;
  iteration: number;
  /** The step's rendered prompt: what the approver decides on. */
  prompt: string;
  createdAt: IsoDate;
  /** When the step's onTimeout decides it. */
  expiresAt: IsoDate | null;
}

/** What `getUsage` groups by: provider, `provider/model`, flow id, or UTC day (YYYY-MM-DD). */
export type UsageGroupBy = "provider" | "model" | "flow" | "day";

export interface UsageOptions {
  /** Start, inclusive (default: the start of this UTC month). */
  from?: Date | IsoDate;
  /** End, exclusive (default: now). */
  to?: Date | IsoDate;
  groupBy?: UsageGroupBy;
}

export interface UsageTotals {
  costUsd: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Billed attempts. */
  calls: number;
}

export interface Usage {
  from: IsoDate;
  to: IsoDate;
  groupBy: UsageGroupBy | null;
  total: UsageTotals;
  /** Empty without `groupBy`. */
  groups: (UsageTotals & { key: string })[];
}

export interface NewSchedule {
  /** 5 fields (minute hour day month weekday), or 6 with seconds first. */
  cron: string;
  /** IANA time zone the pattern is read in, e.g. `Europe/Paris` or `UTC`. */
  timezone: string;
  /** Each run's input. */
  input: string;
  metadata?: Record<string, unknown>;
  /** Each run's priority class (default `normal`). */
  priority?: RunPriority;
}

export interface ScheduleFiring {
  fireAt: IsoDate;
  outcome: "started" | "skipped";
  /** The run it started. */
  run: number | null;
  /** Why it was skipped (a spend cap reached, the flow still running). */
  reason: string | null;
}

export interface Schedule extends Required<NewSchedule> {
  id: string;
  flowId: string;
  createdAt: IsoDate;
  /** The latest firings, newest first. */
  firings: ScheduleFiring[];
}
