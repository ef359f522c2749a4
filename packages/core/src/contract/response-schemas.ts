import { z } from "zod";
import { ContextPolicySchema } from "../schema/context-policy.js";
import {
  OrchestrationFlowStatusSchema,
  OrchestrationFlowTypeSchema,
  OrchestrationStepStatusSchema,
  RunPrioritySchema,
} from "../schema/enums.js";
import { FlowDefinitionSchema, FlowStepSchema } from "../schema/flow-definition.js";
import {
  ApprovalOutputSchema,
  DataSharingPolicySchema,
  FlowExecutionResultSchema,
  FlowStepResultSchema,
  MessageRoleSchema,
  StepErrorSchema,
} from "../schema/results.js";

// What the routes answer: the API types its serializers with these and its tests parse real
// responses with them, the OpenAPI document describes them, and the SDK's result types are
// inferred from them. Where the engine already has a schema (results, definitions), it is reused.

const Timestamp = z.string().describe("ISO 8601");

export const UserResponse = z.object({ id: z.string(), name: z.string(), createdAt: Timestamp });
export const ApiKeyCreatedResponse = z.object({
  id: z.string(),
  key: z.string().describe("the secret; shown only in this response, stored as SHA-256"),
  prefix: z.string(),
});

export const ApiKeyResponse = z.object({
  id: z.string(),
  prefix: z.string().describe("the key's first characters, to tell keys apart"),
  createdAt: Timestamp,
  revokedAt: Timestamp.nullable().describe("null while the key works"),
  lastUsedAt: Timestamp.nullable(),
});
export const ApiKeyListResponse = z.object({ items: z.array(ApiKeyResponse) });

export const ProviderResponse = z.object({
  key: z.string().describe("the provider key flow steps name"),
  queue: z.string().describe("the BullMQ queue of its steps, `steps-<key>`"),
  models: z.array(z.string()).nullable().describe("the models its workers allow (WORKER_MODELS); null: any"),
  limits: z
    .record(z.string(), z.unknown())
    .describe(
      "its PROVIDER_RATE_LIMITS entries (`key`, `key:model`): requestsPerMinute, tokensPerMinute, maxConcurrent",
    ),
  liveWorkers: z.number().int().describe("workers with a heartbeat in the last 30 s; 0 for a pool scaled to zero"),
  workers: z.array(z.object({ id: z.string(), startedAt: Timestamp, heartbeatAt: Timestamp })),
  lastSeenAt: Timestamp.describe("the last time a worker registered it"),
});
export const ProviderListResponse = z.object({ items: z.array(ProviderResponse) });

export const ThreadResponse = z.object({
  id: z.string(),
  ownerId: z.string(),
  title: z.string(),
  createdAt: Timestamp,
});
export const FlowGraphResponse = z.object({
  flowId: z.string(),
  type: z.enum(["sequential", "parallel", "conditional", "critique", "refinement"]),
  steps: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(["llm", "approval"]),
      action: z.string().describe('"approval" for an approval step'),
      provider: z.string().describe('"" for an approval step'),
      model: z.string().describe('"" for an approval step'),
      fallbacks: z.array(z.object({ provider: z.string(), model: z.string() })),
      dependsOn: z.array(z.string()).describe("steps that end before this one starts (loop back-edges excluded)"),
      conditional: z.boolean(),
      optional: z.boolean(),
      inLoop: z.boolean(),
    }),
  ),
  loop: z.object({ steps: z.array(z.string()), maxIterations: z.number().int() }).nullable(),
});
export const ThreadListResponse = z.object({ items: z.array(ThreadResponse), total: z.number().int() });
export const ThreadMemberResponse = z.object({
  threadId: z.string(),
  userId: z.string(),
  permissions: z.array(z.enum(["read", "write", "delete"])),
});
export const MessageResponse = z.object({
  id: z.string(),
  threadId: z.string(),
  role: MessageRoleSchema,
  content: z.string(),
  provider: z.string().nullable(),
  metadata: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("messages a flow saved carry orchestrationFlowId and stepId"),
  createdAt: Timestamp,
});
export const MessageListResponse = z.object({ items: z.array(MessageResponse) });
export const PolicyListResponse = z.object({ items: z.array(DataSharingPolicySchema) });

export const FlowResponse = z.object({
  id: z.string(),
  threadId: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  flowType: OrchestrationFlowTypeSchema,
  steps: z.array(FlowStepSchema),
  contextPolicy: ContextPolicySchema,
  definition: FlowDefinitionSchema,
  status: OrchestrationFlowStatusSchema,
  run: z.number().int().describe("the latest run's number; 0 before the first execute"),
  priority: RunPrioritySchema.describe("the latest run's priority class (`normal` before the first execute)"),
  currentStepIndex: z.number().int(),
  totalCost: z.number(),
  totalTokens: z.number().int(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  completedAt: Timestamp.nullable(),
  result: FlowExecutionResultSchema.nullable(),
  error: StepErrorSchema.extend({ stepId: z.string().optional() }).nullable(),
  stepResults: z
    .array(FlowStepResultSchema)
    .optional()
    .describe("the latest run's steps (GET /v1/flows/{flowId} only)"),
});
export const FlowListResponse = z.object({ items: z.array(FlowResponse), total: z.number().int() });

export const StepPageResponse = z.object({
  flowId: z.string(),
  run: z.number().int().describe("the run these results belong to (the latest)"),
  items: z.array(FlowStepResultSchema).describe("in stepResults order: iteration, then step"),
  nextCursor: z.string().nullable().describe("pass as cursor for the next page; null on the last"),
});

export const ExecuteAcceptedResponse = z.object({
  flowId: z.string(),
  stepId: z.string().optional().describe("single-step execute only"),
  status: z.enum(["queued", "running"]),
  run: z.number().int(),
  message: z.string().optional(),
});
export const CancelAcceptedResponse = z.object({ flowId: z.string(), status: z.literal("cancelling") });

export const FlowStatusResponse = z.object({
  flowId: z.string(),
  status: OrchestrationFlowStatusSchema,
  progress: z.number().min(0).max(100),
  currentStepIndex: z.number().int(),
  totalSteps: z.number().int(),
  completedSteps: z.number().int(),
  failedSteps: z.number().int(),
  startedAt: Timestamp.nullable(),
  completedAt: Timestamp.nullable(),
  totalCost: z.number(),
  totalTokens: z.number().int(),
});

export const TemplateListResponse = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      alias: z.string(),
      description: z.string(),
      flowType: OrchestrationFlowTypeSchema,
      parameters: z.array(
        z.object({ name: z.string(), type: z.string(), default: z.unknown().optional(), description: z.string() }),
      ),
    }),
  ),
});

export const HealthResponse = z.object({ status: z.literal("ok") });
export const ReadinessResponse = z.object({
  status: z.enum(["ready", "unavailable", "draining"]).describe("`draining`: the process got SIGTERM and is finishing"),
  checks: z.object({
    redis: z.boolean(),
    postgres: z.boolean(),
    redisFull: z
      .boolean()
      .optional()
      .describe("present when Redis answers but is at its maxmemory (it refuses writes)"),
  }),
  down: z
    .array(z.enum(["redis", "postgres"]))
    .optional()
    .describe("503 only: what is unreachable"),
  message: z.string().optional(),
});

const RerunOf = z
  .object({ run: z.number().int(), fromStep: z.string() })
  .nullable()
  .describe("the run this one reruns and the step it reran from; null: not a rerun");

export const RunSummaryResponse = z.object({
  run: z.number().int(),
  status: OrchestrationFlowStatusSchema,
  onlyStepId: z.string().nullable().describe("set when the run executed this one step alone"),
  rerunOf: RerunOf,
  totalCost: z.number().describe("USD; reused steps cost nothing"),
  totalTokens: z.number().int(),
  queuedAt: Timestamp.nullable(),
  startedAt: Timestamp.nullable(),
  completedAt: Timestamp.nullable(),
  error: StepErrorSchema.extend({ stepId: z.string().optional() }).nullable(),
});
export const RunListResponse = z.object({
  flowId: z.string(),
  items: z.array(RunSummaryResponse).describe("oldest first"),
});
export const RunDetailResponse = RunSummaryResponse.extend({
  flowId: z.string(),
  input: z.string().nullable(),
  definition: FlowDefinitionSchema.describe("the definition the run executed (a rerun's, with its overrides)"),
  finalOutput: z.string().nullable(),
  steps: z.array(FlowStepResultSchema).describe("iteration, then step order"),
});
export const RerunAcceptedResponse = z.object({
  flowId: z.string(),
  run: z.number().int().describe("the new run"),
  status: z.literal("queued"),
  rerunOf: RerunOf.unwrap(),
});

const ComparedStep = z.object({
  status: OrchestrationStepStatusSchema,
  provider: z.string(),
  model: z.string(),
  output: z.string().nullable(),
  tokens: z.number().int(),
  cost: z.number().nullable(),
  latencyMs: z.number().int().nullable(),
  reusedFrom: z.number().int().nullable(),
});
export const RunComparisonResponse = z.object({
  flowId: z.string(),
  runs: z.array(z.number().int()).length(2).describe("the two runs compared, as asked"),
  steps: z.array(
    z.object({
      stepId: z.string(),
      iteration: z.number().int(),
      results: z.array(ComparedStep.nullable()).describe("one per run, in `runs` order; null: no such step instance"),
      diff: z
        .array(z.object({ kind: z.enum(["same", "added", "removed"]), text: z.string() }))
        .describe("word-level diff from the first run's output to the second's"),
    }),
  ),
  totals: z
    .array(
      z.object({
        run: z.number().int(),
        status: OrchestrationFlowStatusSchema,
        totalCost: z.number(),
        totalTokens: z.number().int(),
        latencyMs: z.number().int().nullable(),
      }),
    )
    .describe("one per run, in `runs` order"),
});
export const ApprovalDecidedResponse = ApprovalOutputSchema.extend({
  flowId: z.string(),
  stepId: z.string(),
});
export const ApprovalListResponse = z.object({
  items: z.array(
    z.object({
      flowId: z.string(),
      flowName: z.string(),
      threadId: z.string(),
      run: z.number().int(),
      stepId: z.string(),
      iteration: z.number().int(),
      prompt: z.string().describe("the step's rendered prompt: what the approver decides on"),
      createdAt: Timestamp,
      expiresAt: Timestamp.nullable().describe("when the step's onTimeout decides it"),
    }),
  ),
});
const SpentInPeriod = z.object({
  usd: z.number().describe("ledger spend billed to the user in the current period"),
  since: Timestamp.describe("the period's start (UTC midnight, or the 1st of the month)"),
  resetsAt: Timestamp,
});
export const UserLimitsResponse = z.object({
  userId: z.string(),
  monthlyUsd: z.number().nullable().describe("cap per UTC calendar month; null: none"),
  dailyUsd: z.number().nullable().describe("cap per UTC day; null: none"),
  maxInFlightSteps: z.number().int().nullable(),
  updatedAt: Timestamp.nullable().describe("null: never set"),
  spent: z.object({ daily: SpentInPeriod, monthly: SpentInPeriod }),
});

const UsageTotals = z.object({
  costUsd: z.number(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  cachedTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  calls: z.number().int().describe("billed calls: committed attempts, and calls cut off by a lost lease"),
  cutOffCalls: z
    .number()
    .int()
    .describe("of calls, those cut off by a lost lease: their tokens and cost are estimates, not the vendor's figures"),
  cutOffCostUsd: z.number().describe("of costUsd, the estimated cost of the calls cut off by a lost lease"),
});
export const UsageResponse = z.object({
  from: Timestamp,
  to: Timestamp,
  groupBy: z.enum(["provider", "model", "flow", "day"]).nullable(),
  total: UsageTotals,
  groups: z
    .array(UsageTotals.extend({ key: z.string().describe("provider, provider/model, flow id, or YYYY-MM-DD (UTC)") }))
    .describe("empty without groupBy"),
});

export const ScheduleResponse = z.object({
  id: z.string(),
  flowId: z.string(),
  cron: z.string(),
  timezone: z.string(),
  input: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  priority: RunPrioritySchema.describe("the priority class of the runs it starts"),
  createdAt: Timestamp,
  firings: z
    .array(
      z.object({
        fireAt: Timestamp.describe("the firing time the cron pattern gave"),
        outcome: z.enum(["started", "skipped"]),
        run: z.number().int().nullable().describe("the run it started"),
        reason: z.string().nullable().describe("why it was skipped (a spend cap reached, the flow still running)"),
      }),
    )
    .describe("the latest 50, newest first"),
});
export const ScheduleListResponse = z.object({ items: z.array(ScheduleResponse) });
