import type { apiContract, FlowStreamUpdate, RequestBody, RequestQuery, ResponseBody } from "@ensemble/core";

// The SDK's types are the HTTP contract's (@ensemble/core contract/): what a method sends is
// its route's request schema's input, what it returns its route's response schema's output.
// Only the client-side options (callbacks, signals, idempotency keys) are the SDK's own.

type Contract = typeof apiContract;
type Answer<K extends keyof Contract, S extends keyof Contract[K]["responses"]> = ResponseBody<Contract[K], S>;
type ItemOf<T> = T extends { items: (infer I)[] } ? I : never;

/** Timestamps are ISO 8601 strings, as the API sends them (`new Date(flow.createdAt)` for a Date). */
export type IsoDate = string;

export type Thread = Answer<"getThread", 200>;
export type ThreadList = Answer<"listThreads", 200>;
export type ThreadMember = Answer<"putThreadMember", 200>;
export type ThreadPermission = ThreadMember["permissions"][number];
/** A message a flow saved has `metadata.orchestrationFlowId` and `metadata.stepId`. */
export type Message = Answer<"createMessage", 201>;
export type NewMessage = RequestBody<Contract["createMessage"]>;

/** Per provider: what the calling user allows to be sent to it. */
export type DataSharingPolicySettings = RequestBody<Contract["putPolicy"]>;
export type DataSharingPolicy = Answer<"putPolicy", 200>;

/** A stored flow with its definition and its run number; `stepResults` only from `getFlow`. */
export type Flow = Answer<"getFlow", 200>;
export type FlowList = Answer<"listFlows", 200>;
/** One page of a flow's latest run's step results (`GET /v1/flows/:flowId/steps`). */
export type StepPage = Answer<"listFlowSteps", 200>;
export type FlowStatus = Answer<"getFlowStatus", 200>;

/** `limit` 1–100, default 20; a page also ends once its outputs reach 1 000 000 characters. */
export type ListFlowStepsOptions = Partial<RequestQuery<Contract["listFlowSteps"]>>;
export type ListFlowsOptions = Partial<RequestQuery<Contract["listFlows"]>>;

type ExecuteBody = RequestBody<Contract["executeFlow"]>;

export interface ExecuteFlowOptions extends ExecuteBody {
  /** Follow the flow's events while it runs (implied by `onUpdate`). */
  streaming?: boolean;
  /** Called with each event of this run, in order, while it runs. */
  onUpdate?: (update: FlowStreamUpdate) => void;
  /** Stops waiting (the run goes on; `cancelFlow` stops it). */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key`: calling again with the same key and options starts nothing new and returns the first answer. */
  idempotencyKey?: string;
}

/** A step run alone is called at once: no saved messages, no batch delivery. */
export interface ExecuteStepOptions extends Omit<ExecuteBody, "saveMessages" | "delivery" | "batchDeadline"> {
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
export type RunSummary = ItemOf<Answer<"listRuns", 200>>;
/** One run with the definition it executed and its step results (`getRun`). */
export type RunDetail = Answer<"getRun", 200>;

export interface RerunOptions extends RequestBody<Contract["rerun"]> {
  /** Called with each event of the new run, in order, while it runs. */
  onUpdate?: (update: FlowStreamUpdate) => void;
  /** Stops waiting (the run goes on; `cancelFlow` stops it). */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key` (see ExecuteFlowOptions). */
  idempotencyKey?: string;
}

type Comparison = Answer<"compareRuns", 200>;
type ComparedRow = Comparison["steps"][number];
/** What one run did at one step instance (`compare`). */
export type ComparedStep = NonNullable<ComparedRow["results"][number]>;
/** Two runs side by side (`compare`); the API always answers a pair, typed here as one. */
export type RunComparison = Omit<Comparison, "runs" | "steps"> & {
  runs: [number, number];
  steps: (Omit<ComparedRow, "results"> & { results: [ComparedStep | null, ComparedStep | null] })[];
};

/** A decision on a waiting approval step. */
export type ApprovalInput = RequestBody<Contract["approveStep"]>;
/** A decided approval step: its output (`{ decision, data, comment, decidedBy, decidedAt }`) with where it was. */
export type ApprovalDecided = Answer<"approveStep", 200>;
/** An approval step waiting for a decision the caller may take. */
export type WaitingApproval = ItemOf<Answer<"listApprovals", 200>>;

export type Usage = Answer<"getUsage", 200>;
export type UsageTotals = Usage["total"];
/** What `getUsage` groups by: provider, `provider/model`, flow id, or UTC day (YYYY-MM-DD). */
export type UsageGroupBy = NonNullable<Usage["groupBy"]>;

export interface UsageOptions {
  /** Start, inclusive (default: the start of this UTC month). */
  from?: Date | IsoDate;
  /** End, exclusive (default: now). */
  to?: Date | IsoDate;
  groupBy?: UsageGroupBy;
}

export type NewSchedule = RequestBody<Contract["createSchedule"]>;
export type Schedule = Answer<"createSchedule", 201>;
export type ScheduleFiring = Schedule["firings"][number];
