import { issuesFromZod, RunPrioritySchema, StepIdSchema } from "@ensemble/core";
import { z } from "zod";
import { InvalidJobPayloadError } from "./errors/invalid-job-payload-error.js";
import { QUEUE_NAMES, type QueueName } from "./queue-names.js";

// Payloads carry ids only. Prompts, outputs and keys live in Postgres: job data is visible
// in Bull Board and kept in Redis for days, and small payloads keep BullMQ's Lua fast.
// z.object (not strictObject) strips unknown keys: a producer cannot smuggle extra data in,
// and a worker of the previous release accepts jobs from the next one during a rollout.

const FlowIdSchema = z.string().min(1).max(128);
const RunSchema = z.number().int().min(1);
/** Human label for Bull Board ("Translation Pipeline › summarize #1"); never used for dispatch. */
const LabelSchema = z.string().max(200).optional();

export const CancelReasonSchema = z.enum(["cancelled", "timed_out"]);
export type CancelReason = z.infer<typeof CancelReasonSchema>;

export const FlowStartPayloadSchema = z.object({
  flowId: FlowIdSchema,
  run: RunSchema,
  label: LabelSchema,
  /** The id of the HTTP request that executed the run (the API's access log): the scheduler logs it with the run. */
  requestId: z.string().max(128).optional(),
});
export const FlowAdvancePayloadSchema = z.object({ flowId: FlowIdSchema, run: RunSchema, label: LabelSchema });
export const FlowCancelPayloadSchema = z.object({
  flowId: FlowIdSchema,
  run: RunSchema,
  reason: CancelReasonSchema,
  label: LabelSchema,
});
/** One instance of an approval step: its timeout decides it if it is still waiting. */
export const FlowApprovalTimeoutPayloadSchema = z.object({
  flowId: FlowIdSchema,
  run: RunSchema,
  stepId: StepIdSchema,
  iteration: z.number().int().min(0),
  label: LabelSchema,
});
export const FlowArchiveEventsPayloadSchema = z.object({ flowId: FlowIdSchema, label: LabelSchema });
/** One firing of a flow's schedule; its firing time is the scheduler job's (`job.opts.prevMillis`). */
export const ScheduleFirePayloadSchema = z.object({ scheduleId: z.string().min(1).max(128), label: LabelSchema });
export const FlowSweepPayloadSchema = z.object({ label: LabelSchema });
export const FlowArchiveDuePayloadSchema = z.object({ label: LabelSchema });
/** Whose step a job is and its run's priority class: its place in its queue (see FairShare). */
export const JobDispatchSchema = z.object({ userId: z.string().min(1).max(128), priority: RunPrioritySchema });
export type JobDispatch = z.infer<typeof JobDispatchSchema>;
export const StepRunPayloadSchema = z.object({
  flowId: FlowIdSchema,
  run: RunSchema,
  stepId: StepIdSchema,
  /** 0 outside loops; 1, 2, … per loop iteration. */
  iteration: z.number().int().min(0),
  /** Step-level attempt (decided by the engine), not BullMQ's infrastructure attempt. */
  attempt: z.number().int().min(0),
  label: LabelSchema,
  /** The provider and model this attempt calls (a fallback's after the primary's retries): for rate limits and for people reading the queue. */
  provider: z.string().min(1).max(100).optional(),
  model: z.string().min(1).max(200).optional(),
  /** The run's executor and priority (absent in jobs of a release before fair sharing: FIFO). */
  dispatch: JobDispatchSchema.optional(),
  /** A batch step sent to a synchronous call (its batch failed or expired, its deadline came near): a job id of its own. */
  batchFallback: z.literal(true).optional(),
});
/** One provider batch of batch-delivery steps; run by a worker serving `provider` (its keys live there). */
export const StepBatchPayloadSchema = z.object({
  batchId: z.string().min(1).max(128),
  provider: z.string().min(1).max(100),
  label: LabelSchema,
});

/** How BullMQ keeps finished jobs: by age in seconds and optionally by count. */
export interface KeepJobsPolicy {
  age: number;
  count?: number;
}

/** One row of the catalog. Attempts and backoff are infrastructure retries (Redis or
 * database hiccups, stalled workers); whether a step is retried is the engine's decision. */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  queue: QueueName;
  schema: S;
  attempts: number;
  backoff: { type: "exponential" | "fixed"; delay: number };
  removeOnComplete: KeepJobsPolicy;
  removeOnFail: KeepJobsPolicy;
}

const HOUR_SECONDS = 3_600;
const DAY_SECONDS = 24 * HOUR_SECONDS;
// Completed jobs only help debugging; failed ones are evidence, so they stay a week.
const KEEP_COMPLETED: KeepJobsPolicy = { age: HOUR_SECONDS, count: 10_000 };
const KEEP_FAILED: KeepJobsPolicy = { age: 7 * DAY_SECONDS };

// Flow jobs are quick state-machine steps: retry soon and often, a Postgres failover can
// take ~30 s and 10 attempts at 200 ms doubling span ~100 s.
const FLOW_JOB = {
  queue: QUEUE_NAMES.flows,
  attempts: 10,
  backoff: { type: "exponential", delay: 200 },
  removeOnComplete: KEEP_COMPLETED,
  removeOnFail: KEEP_FAILED,
} as const satisfies Omit<JobDefinition, "schema">;

// Batch jobs go to their provider's step queue (see queueForJob): only that pool holds its keys.
const BATCH_JOB = {
  queue: QUEUE_NAMES.steps,
  attempts: 10,
  backoff: { type: "exponential", delay: 1_000 },
  removeOnComplete: KEEP_COMPLETED,
  removeOnFail: KEEP_FAILED,
} as const satisfies Omit<JobDefinition, "schema">;

/** Every job Ensemble runs: name → payload schema → queue and retry policy. */
export const JOB_CATALOG = {
  /** Plan and dispatch the first steps of a run. */
  "flow.start": { ...FLOW_JOB, schema: FlowStartPayloadSchema },
  /** Re-plan a run from its stored results: after a step finishes, or to repair after a crash. */
  "flow.advance": { ...FLOW_JOB, schema: FlowAdvancePayloadSchema },
  /** Stop a run (user cancel or flow timeout). */
  "flow.cancel": { ...FLOW_JOB, schema: FlowCancelPayloadSchema },
  /** Decide a waiting approval step by its onTimeout once its timeout has passed (delayed; the sweeper re-sends it). */
  "flow.approval-timeout": { ...FLOW_JOB, schema: FlowApprovalTimeoutPayloadSchema },
  /** Move a finished flow's progress events out of Redis (one flow; kept for jobs already queued). */
  "flow.archive-events": { ...FLOW_JOB, schema: FlowArchiveEventsPayloadSchema },
  /** Periodic: move the events of every flow due for archiving (see ArchiveSchedule) out of Redis, in batches. */
  "flow.archive-due": { ...FLOW_JOB, schema: FlowArchiveDuePayloadSchema },
  /** A flow schedule fired: start one run (once per schedule and firing time), or record why not. */
  "flow.schedule-fire": { ...FLOW_JOB, schema: ScheduleFirePayloadSchema },
  /** Periodic repair: find runs that stopped advancing and advance them. */
  "flow.sweep": { ...FLOW_JOB, schema: FlowSweepPayloadSchema },
  /** Run one step of one run (one provider call). */
  "step.run": {
    queue: QUEUE_NAMES.steps,
    schema: StepRunPayloadSchema,
    // More patience than flow jobs: a step's retry is cheap next to losing a paid-for result.
    attempts: 20,
    backoff: { type: "exponential", delay: 500 },
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  },
  /** Send a chosen batch of batch-delivery steps to their provider's batch API, and record its id. */
  "batch.submit": { ...BATCH_JOB, schema: StepBatchPayloadSchema },
  /** Ask the provider where a batch stands; apply its results once it ended (cancel it when its steps all were). */
  "batch.poll": { ...BATCH_JOB, schema: StepBatchPayloadSchema },
} as const satisfies Record<string, JobDefinition>;

export type JobCatalog = typeof JOB_CATALOG;
export type JobName = keyof JobCatalog;
export type JobPayload<N extends JobName> = z.infer<JobCatalog[N]["schema"]>;
/** The job names served by one queue. */
export type JobNameOnQueue<Q extends QueueName> = {
  [N in JobName]: JobCatalog[N]["queue"] extends Q ? N : never;
}[JobName];

export const JOB_NAMES = Object.keys(JOB_CATALOG) as JobName[];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOB_CATALOG, name);
}

/** Validates `data` against `name`'s schema; throws `InvalidJobPayloadError` naming each bad field. */
export function parseJobPayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const schema: z.ZodType = JOB_CATALOG[name].schema;
  const result = schema.safeParse(data);
  if (!result.success) throw new InvalidJobPayloadError(name, issuesFromZod(result.error));
  return result.data as JobPayload<N>;
}
