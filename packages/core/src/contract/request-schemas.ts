import { z } from "zod";
import { OrchestrationFlowStatusSchema, RunPrioritySchema, StepDeliverySchema } from "../schema/enums.js";
import { ApprovalDecisionSchema, BatchDeadlineSchema, StepIdSchema } from "../schema/flow-definition.js";
import { TimeoutConfigSchema } from "../schema/results.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import { StepOverridesSchema } from "../validation/step-overrides.js";

/**
 * Pages of `GET /v1/flows/:flowId/steps`: at most `maxItems` step results, and a page ends
 * after the result that brings its outputs past `outputChars` (a page always holds at
 * least one result), so a page stays near one step's largest output however many are asked for.
 */
export const STEP_PAGE_LIMITS = {
  defaultItems: 20,
  maxItems: 100,
  outputChars: 1_000_000,
} as const;

/**
 * The request bodies and queries of the HTTP contract: the API validates requests with them,
 * the OpenAPI document describes them, and the SDK takes its option types from them.
 */
export const CreateUserBody = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  name: z.string().min(1).max(200),
});
export const CreateThreadBody = z.strictObject({ title: z.string().min(1).max(500) });
export const PutMemberBody = z.strictObject({ permissions: z.array(z.enum(["read", "write", "delete"])).max(3) });
export const CreateMessageBody = z.strictObject({
  role: z.enum(["user", "assistant", "system"]),
  content: z.string().min(1).max(200_000),
});
export const PutPolicyBody = z.strictObject({
  allowConversationHistory: z.boolean(),
  allowCrossProviderContext: z.boolean(),
  allowAttachments: z.boolean(),
});
export const CreateFlowBody = z.strictObject({ threadId: z.string().min(1).max(128), definition: z.unknown() });
export const ExecuteFlowBody = z.strictObject({
  input: z.string().max(FLOW_LIMITS.maxInputChars).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  saveMessages: z.boolean().optional(),
  timeout: TimeoutConfigSchema.optional(),
  /** The run's priority class (default `normal`); its step jobs inherit it. */
  priority: RunPrioritySchema.optional(),
  /** "batch": the run's model steps that set no delivery of their own go in provider batches (half price). */
  delivery: StepDeliverySchema.optional(),
  /** With `delivery: "batch"`: how long those steps may wait for their batch (ms, or an ISO 8601 duration). */
  batchDeadline: BatchDeadlineSchema.optional(),
});
export const RerunBody = z.strictObject({
  fromStep: StepIdSchema,
  overrides: StepOverridesSchema.optional(),
  input: ExecuteFlowBody.shape.input,
  /** Default: the priority of the run it reruns. */
  priority: ExecuteFlowBody.shape.priority,
});
/** A run number in a path. */
export const RunParam = z.coerce.number().int().min(1).max(2_147_483_647);
export const CompareQuery = z.object({
  runs: z
    .string()
    .regex(/^[1-9]\d{0,8},[1-9]\d{0,8}$/, "must be two run numbers separated by a comma, e.g. 3,5")
    .describe("the two runs, e.g. 3,5"),
});
export const ListThreadsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export const ListFlowsQuery = z.object({
  status: OrchestrationFlowStatusSchema.optional(),
  type: z.enum(["sequential", "parallel", "conditional", "critique", "refinement"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  sortBy: z.enum(["createdAt", "completedAt", "name"]).default("createdAt"),
  sortOrder: z.enum(["ASC", "DESC"]).default("DESC"),
});
export const WaitQuery = z.object({
  wait: z
    .enum(["true", "false"])
    .optional()
    .describe("true: hold the request until the run ends and answer with its result"),
});
/** `cursor` is the `nextCursor` of the page before ("<iteration>.<stepIndex>", opaque to clients). */
export const StepPageQuery = z.object({
  cursor: z
    .string()
    .regex(/^\d{1,9}\.\d{1,9}$/, "must be the nextCursor of the page before")
    .optional(),
  limit: z.coerce.number().int().min(1).max(STEP_PAGE_LIMITS.maxItems).default(STEP_PAGE_LIMITS.defaultItems),
});
export const ApproveStepBody = z.strictObject({
  decision: ApprovalDecisionSchema,
  /** Checked against the step's responseSchema (400 naming the path under `data`). */
  data: z.unknown().optional(),
  comment: z.string().max(10_000).optional(),
});
export const ListApprovalsQuery = z.object({
  status: z.enum(["waiting"]).default("waiting"),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const Usd = z.number().positive().max(1_000_000_000).nullable().optional();
/** An admin's limits for a user: an absent field stays as it was, null clears it. */
export const PutUserLimitsBody = z.strictObject({
  monthlyUsd: Usd,
  dailyUsd: Usd,
  maxInFlightSteps: z.number().int().min(1).max(1_000_000).nullable().optional(),
});

const Instant = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-01-01T00:00:00Z" });
export const UsageQuery = z
  .object({
    from: Instant.optional(),
    to: Instant.optional(),
    groupBy: z.enum(["provider", "model", "flow", "day"]).optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), {
    path: ["to"],
    message: "must be after from",
  });

/** A time zone the runtime knows (IANA name, e.g. Europe/Paris, or UTC). */
function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export const CreateScheduleBody = z.strictObject({
  /** Its pattern's fields are checked by the API (cron-parser stays out of the SDK's bundle). */
  cron: z.string().min(1).max(200),
  timezone: z.string().min(1).max(64).refine(isTimeZone, "must be an IANA time zone, e.g. Europe/Paris or UTC"),
  input: z.string().max(FLOW_LIMITS.maxInputChars),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** The priority class of the runs it starts (default `normal`). */
  priority: ExecuteFlowBody.shape.priority,
});

/**
 * A template's parameters. Each template checks its own (template.build), so this only
 * describes the body; the route hands it over as sent.
 */
export const TemplateParameters = z
  .record(z.string(), z.unknown())
  .describe("the template's parameters (GET /v1/templates lists them)");

/** `GET /v1/flows/{flowId}/events`: checked together with the Last-Event-ID header (which wins). */
export const EventStreamQuery = z.object({
  lastEventId: z
    .string()
    .regex(/^\d+$/)
    .optional()
    .describe("resume after this event id (the Last-Event-ID header wins)"),
});
