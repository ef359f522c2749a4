import {
  MessageRoleSchema,
  OrchestrationFlowStatusSchema,
  OrchestrationFlowTypeSchema,
  OrchestrationStepStatusSchema,
  RunPrioritySchema,
  StepActionSchema,
  ThreadPermissionSchema,
  FlowEventTypeSchema,
  type ChatMessage,
  type StepSettings,
  type TokenUsage,
} from "@ensemble/core";
import { sql, type SQL } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/**
 * Ensemble's tables. Unique constraints make every write of a step's effect
 * idempotent: one step result per (flow, run, step, iteration); one ledger row per
 * (step result, attempt); one cut-off call per (step result, lost lease); one saved
 * message per step result.
 */

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** A run's W3C trace context: its span's `traceparent` and the span it was started under. */
export interface RunTraceColumn {
  traceparent: string;
  parentSpanId: string | null;
}

/**
 * Enumerated columns are text typed by core's zod enums, with a CHECK constraint listing
 * the same values: Drizzle types the rows and Postgres refuses a value outside the set,
 * and adding a value to the enum means a new migration (drizzle-kit sees the CHECK change).
 */
const enumText = <V extends string>(name: string, values: readonly V[]) => text(name, { enum: values as [V, ...V[]] });
const allowedValues = (column: string, values: readonly string[]): SQL =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(", ")})`);

/** `started`: the firing started a run; `skipped`: it did not (a spend cap reached, the flow still running). */
export const SCHEDULE_FIRING_OUTCOMES = ["started", "skipped"] as const;
export type ScheduleFiringOutcome = (typeof SCHEDULE_FIRING_OUTCOMES)[number];

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** SHA-256 of the whole key, hex; the key itself is shown once and never stored. */
    keyHash: text("key_hash").notNull(),
    /** The key's first characters, to tell keys apart in listings. */
    prefix: text("prefix").notNull(),
    createdAt: createdAt(),
    revokedAt: ts("revoked_at"),
    lastUsedAt: ts("last_used_at"),
  },
  (t) => [uniqueIndex("api_keys_key_hash_uq").on(t.keyHash), index("api_keys_user_idx").on(t.userId)],
);

export const threads = pgTable("threads", {
  id: text("id").primaryKey(),
  ownerId: text("owner_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  title: text("title").notNull(),
  createdAt: createdAt(),
});

export const threadMembers = pgTable(
  "thread_members",
  {
    threadId: text("thread_id")
      .notNull()
      .references(() => threads.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Subset of read, write, delete. */
    permissions: enumText("permissions", ThreadPermissionSchema.options).array().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.threadId, t.userId] }),
    check(
      "thread_members_permissions_check",
      sql.raw(`permissions <@ array[${ThreadPermissionSchema.options.map((v) => `'${v}'`).join(", ")}]::text[]`),
    ),
  ],
);

export const messages = pgTable(
  "messages",
  {
    id: text("id").primaryKey(),
    threadId: text("thread_id")
      .notNull()
      .references(() => threads.id, { onDelete: "cascade" }),
    role: enumText("role", MessageRoleSchema.options).notNull(),
    content: text("content").notNull(),
    /** The provider that wrote an assistant message, if any (data-sharing checks). */
    provider: text("provider"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** Set when a flow saved this message: at most one message per step result. */
    stepResultId: text("step_result_id"),
    createdAt: createdAt(),
  },
  (t) => [
    check("messages_role_check", allowedValues("role", MessageRoleSchema.options)),
    index("messages_thread_idx").on(t.threadId, t.createdAt),
    uniqueIndex("messages_step_result_uq").on(t.stepResultId),
  ],
);

export const dataSharingPolicies = pgTable(
  "data_sharing_policies",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    providerKey: text("provider_key").notNull(),
    allowConversationHistory: boolean("allow_conversation_history").notNull(),
    allowCrossProviderContext: boolean("allow_cross_provider_context").notNull(),
    allowAttachments: boolean("allow_attachments").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.providerKey] })],
);

export const flows = pgTable(
  "flows",
  {
    id: text("id").primaryKey(),
    threadId: text("thread_id")
      .notNull()
      .references(() => threads.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /**
     * Who executed the current run (null before the first). Its data-sharing policies
     * apply with the thread owner's, and its usage is billed to them.
     */
    executedBy: text("executed_by").references(() => users.id, { onDelete: "set null" }),
    name: text("name").notNull(),
    description: text("description"),
    flowType: enumText("flow_type", OrchestrationFlowTypeSchema.options).notNull(),
    /** The validated FlowDefinition, as JSON. Immutable after creation. */
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
    /** The definition the current run executes when it is not `definition` (a rerun with overrides). */
    runDefinition: jsonb("run_definition").$type<Record<string, unknown>>(),
    /** The run the current run reruns, and the step it reruns from (null: not a rerun). */
    rerunOf: integer("rerun_of"),
    rerunFromStep: text("rerun_from_step"),
    status: enumText("status", OrchestrationFlowStatusSchema.options).notNull().default("pending"),
    /** Each execute starts a new run; step results belong to one run. */
    run: integer("run").notNull().default(0),
    /** The step the current run executes alone (`POST …/steps/:stepId/execute`); null: the whole flow. */
    onlyStepId: text("only_step_id"),
    /** The current run's priority class (execute's `priority`): its step jobs inherit it. */
    priority: enumText("priority", RunPrioritySchema.options).notNull().default("normal"),
    currentStepIndex: integer("current_step_index").notNull().default(0),
    /**
     * The run's state (a hash of its instances' ids, statuses and attempts) that a step ending
     * without the flow's lock last claimed to advance from: of siblings that read the same
     * state after their ends, only the one whose claim changes this advances the run.
     */
    advanceClaim: text("advance_claim"),
    input: text("input"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    saveMessages: boolean("save_messages").notNull().default(false),
    stepTimeoutMs: integer("step_timeout_ms"),
    deadlineAt: ts("deadline_at"),
    /**
     * The run's spend (USD; with totalTokens, its tokens): while it runs, that of its calls cut
     * off by lost leases (estimated; see cut_off_calls), added as each is
     * recorded; its instances' spend is added when it ends. Only ever added to, so the two
     * writes meet in either order.
     */
    totalCost: doublePrecision("total_cost").notNull().default(0),
    totalTokens: bigint("total_tokens", { mode: "number" }).notNull().default(0),
    result: jsonb("result").$type<Record<string, unknown>>(),
    error: jsonb("error").$type<{ code: string; message: string; stepId?: string }>(),
    createdAt: createdAt(),
    queuedAt: ts("queued_at"),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
    /** The current run's place in its OpenTelemetry trace (null when tracing is off). */
    trace: jsonb("trace").$type<RunTraceColumn>(),
  },
  (t) => [
    check("flows_flow_type_check", allowedValues("flow_type", OrchestrationFlowTypeSchema.options)),
    check("flows_status_check", allowedValues("status", OrchestrationFlowStatusSchema.options)),
    check("flows_priority_check", allowedValues("priority", RunPrioritySchema.options)),
    index("flows_thread_idx").on(t.threadId, t.createdAt),
    index("flows_status_idx").on(t.status),
  ],
);

/**
 * `submitting`: its steps are chosen, the provider not yet asked (a redelivered submit asks again);
 * `submitted`: the provider accepted it (`provider_batch_id`) and the scheduler polls it;
 * `ended`: its results were applied (or its steps sent to a synchronous call); `cancelled`:
 * every step of it was cancelled and the provider asked to cancel it; `failed`: the provider
 * refused it, and its steps were sent to a synchronous call.
 */
export const STEP_BATCH_STATES = ["submitting", "submitted", "ended", "cancelled", "failed"] as const;
export type StepBatchState = (typeof STEP_BATCH_STATES)[number];

/** One provider batch of `delivery: "batch"` steps of one provider and model (their rows name it in `batch_id`). */
export const stepBatches = pgTable(
  "step_batches",
  {
    id: text("id").primaryKey(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    state: enumText("state", STEP_BATCH_STATES).notNull(),
    /** The vendor's id, once it accepted the batch. */
    providerBatchId: text("provider_batch_id"),
    itemCount: integer("item_count").notNull(),
    /** The earliest deadline of its steps. */
    deadlineAt: ts("deadline_at").notNull(),
    submittedAt: ts("submitted_at"),
    polledAt: ts("polled_at"),
    endedAt: ts("ended_at"),
    createdAt: createdAt(),
  },
  (t) => [
    check("step_batches_state_check", allowedValues("state", STEP_BATCH_STATES)),
    index("step_batches_open_idx")
      .on(t.state)
      .where(sql`state in ('submitting', 'submitted')`),
  ],
);

/** A batched step's request, as its worker built it: the batch is sent from it by another worker. */
export interface BatchRequestColumn {
  model: string;
  messages: ChatMessage[];
  settings: StepSettings;
}

export const stepResults = pgTable(
  "step_results",
  {
    id: text("id").primaryKey(),
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    run: integer("run").notNull(),
    stepId: text("step_id").notNull(),
    stepIndex: integer("step_index").notNull(),
    iteration: integer("iteration").notNull().default(0),
    /** 0-based number of the latest attempt. */
    attempt: integer("attempt").notNull().default(0),
    status: enumText("status", OrchestrationStepStatusSchema.options).notNull(),
    output: text("output"),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    action: enumText("action", StepActionSchema.options).notNull(),
    usage: jsonb("usage").$type<TokenUsage>(),
    cost: doublePrecision("cost"),
    /**
     * What every billed attempt of this instance spent, retries included (its `usage` and `cost`
     * are the latest attempt's). Written with the attempt's end, on this row alone: a run's spend
     * is the sum over its instances (the flow's totals are written when the run ends), so
     * parallel steps end without touching their flow's row.
     */
    spentTokens: bigint("spent_tokens", { mode: "number" }).notNull().default(0),
    spentCost: doublePrecision("spent_cost").notNull().default(0),
    error: jsonb("error").$type<{ code: string; message: string; retryable?: boolean; retryAfterMs?: number }>(),
    /** Fencing token: bumped by every claim; a worker commits only while it still holds its token. */
    leaseToken: integer("lease_token").notNull().default(0),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: ts("lease_expires_at"),
    messageId: text("message_id"),
    /** The run whose output this instance copies (a rerun's step before `fromStep`): no call, no ledger row, no cost. */
    reusedFrom: integer("reused_from"),
    /** When the current attempt may start (retry backoff). */
    notBefore: ts("not_before"),
    /** An approval step's rendered prompt, written when it starts waiting: what the approver sees. */
    approvalPrompt: text("approval_prompt"),
    /** When a waiting approval step's timeout decides it. */
    expiresAt: ts("expires_at"),
    /** A `delivery: "batch"` step's batch, once one is chosen for it. */
    batchId: text("batch_id").references(() => stepBatches.id, { onDelete: "set null" }),
    /** A batched step's request (written when it becomes `batched`). */
    batchRequest: jsonb("batch_request").$type<BatchRequestColumn>(),
    /** When a batch step became `batched` (its age for the submit trigger). */
    batchedAt: ts("batched_at"),
    /** When a batched step is called at once instead: its deadline less its timeout. */
    batchDeadlineAt: ts("batch_deadline_at"),
    /** Why a batch step was sent to a synchronous call (its batch failed or expired, its item errored, its deadline came near). */
    batchFallback: text("batch_fallback"),
    createdAt: createdAt(),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
  },
  (t) => [
    check("step_results_status_check", allowedValues("status", OrchestrationStepStatusSchema.options)),
    check("step_results_action_check", allowedValues("action", StepActionSchema.options)),
    uniqueIndex("step_results_instance_uq").on(t.flowId, t.run, t.stepId, t.iteration),
    index("step_results_open_idx")
      .on(t.status)
      .where(sql`status in ('pending', 'running')`),
    // The scheduler's way to batched steps: those to submit (no batch yet) and those near their deadline.
    index("step_results_batched_idx")
      .on(t.provider, t.model, t.batchDeadlineAt)
      .where(sql`status = 'batched'`),
    // The sweeper's and GET /v1/approvals' way to waiting approval steps.
    index("step_results_waiting_idx")
      .on(t.expiresAt)
      .where(sql`status = 'waiting'`),
  ],
);

/**
 * Runs that are no longer a flow's current run, as the flow row held them when the next
 * run replaced it (the current run lives in `flows`): a flow's run history.
 */
export const flowRuns = pgTable(
  "flow_runs",
  {
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    run: integer("run").notNull(),
    status: enumText("status", OrchestrationFlowStatusSchema.options).notNull(),
    /** The definition the run executed (the flow's, or a rerun's with its overrides). */
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
    executedBy: text("executed_by"),
    onlyStepId: text("only_step_id"),
    input: text("input"),
    rerunOf: integer("rerun_of"),
    rerunFromStep: text("rerun_from_step"),
    totalCost: doublePrecision("total_cost").notNull(),
    totalTokens: bigint("total_tokens", { mode: "number" }).notNull(),
    result: jsonb("result").$type<Record<string, unknown>>(),
    error: jsonb("error").$type<{ code: string; message: string; stepId?: string }>(),
    queuedAt: ts("queued_at"),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
  },
  (t) => [
    primaryKey({ columns: [t.flowId, t.run] }),
    check("flow_runs_status_check", allowedValues("status", OrchestrationFlowStatusSchema.options)),
  ],
);

export const usageLedger = pgTable(
  "usage_ledger",
  {
    id: text("id").primaryKey(),
    stepResultId: text("step_result_id")
      .notNull()
      .references(() => stepResults.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    flowId: text("flow_id").notNull(),
    userId: text("user_id").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    /** The whole prompt: plain input plus the cache reads and writes below. */
    promptTokens: integer("prompt_tokens").notNull(),
    completionTokens: integer("completion_tokens").notNull(),
    /** Prompt tokens read from the vendor's prompt cache. */
    cachedTokens: integer("cached_tokens").notNull().default(0),
    /** Prompt tokens written to the prompt cache, 1-hour entries included. */
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    /** Of cacheWriteTokens, those written as 1-hour entries (billed higher than 5-minute ones). */
    cacheWrite1hTokens: integer("cache_write_1h_tokens").notNull().default(0),
    reasoningTokens: integer("reasoning_tokens").notNull().default(0),
    /** USD; null when the model has no known price. */
    cost: doublePrecision("cost"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("usage_ledger_attempt_uq").on(t.stepResultId, t.attempt),
    index("usage_ledger_flow_idx").on(t.flowId),
    // A user's spend over a period (spend caps, GET /v1/usage): one range scan of this index.
    index("usage_ledger_user_time_idx").on(t.userId, t.createdAt),
  ],
);

/**
 * Provider calls cut off by a lost lease: the vendor may bill them although no result is
 * committed for them. Written by the worker that lost the lease, one row per lost lease (a
 * step's lease tokens only grow). Its tokens are estimates (the prompt and the output
 * streamed until the cut, counted by the context tokenizer) and its cost those estimates at
 * the price table; the vendor may bill somewhat differently. Spend caps and GET /v1/usage
 * sum it with the usage ledger. A table of its own, not usage_ledger rows: the ledger's
 * unique (step_result_id, attempt), which every step end's insert names as its conflict
 * target, stays as it is.
 */
export const cutOffCalls = pgTable(
  "cut_off_calls",
  {
    id: text("id").primaryKey(),
    stepResultId: text("step_result_id")
      .notNull()
      .references(() => stepResults.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    /** The lease the calling worker held and lost. */
    leaseToken: integer("lease_token").notNull(),
    flowId: text("flow_id").notNull(),
    run: integer("run").notNull(),
    /** Whom the call is billed to: the run's executing user. */
    userId: text("user_id").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    promptTokens: integer("prompt_tokens").notNull(),
    completionTokens: integer("completion_tokens").notNull(),
    /** USD; null when the model has no known price. */
    cost: doublePrecision("cost"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("cut_off_calls_lease_uq").on(t.stepResultId, t.leaseToken),
    index("cut_off_calls_flow_idx").on(t.flowId),
    // With usage_ledger_user_time_idx: a user's spend over a period is one range scan of each.
    index("cut_off_calls_user_time_idx").on(t.userId, t.createdAt),
  ],
);

/** A user's spend caps (USD, per UTC day and UTC calendar month) and step limit, set by an administrator. */
export const userLimits = pgTable("user_limits", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  monthlyUsd: doublePrecision("monthly_usd"),
  dailyUsd: doublePrecision("daily_usd"),
  maxInFlightSteps: integer("max_in_flight_steps"),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** A flow run on a cron schedule, as the user who created it. BullMQ job schedulers fire it; this row is the truth. */
export const flowSchedules = pgTable(
  "flow_schedules",
  {
    id: text("id").primaryKey(),
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    cron: text("cron").notNull(),
    timezone: text("timezone").notNull(),
    input: text("input").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** The priority class of the runs it starts. */
    priority: enumText("priority", RunPrioritySchema.options).notNull().default("normal"),
    createdAt: createdAt(),
  },
  (t) => [
    index("flow_schedules_flow_idx").on(t.flowId),
    check("flow_schedules_priority_check", allowedValues("priority", RunPrioritySchema.options)),
  ],
);

/** What each firing of a schedule did: one row per (schedule, firing time), so a firing runs at most once. */
export const scheduleFirings = pgTable(
  "schedule_firings",
  {
    scheduleId: text("schedule_id")
      .notNull()
      .references(() => flowSchedules.id, { onDelete: "cascade" }),
    fireAt: timestamp("fire_at", { withTimezone: true, mode: "date" }).notNull(),
    outcome: enumText("outcome", SCHEDULE_FIRING_OUTCOMES).notNull(),
    /** The run it started (outcome `started`). */
    run: integer("run"),
    /** Why it was skipped (outcome `skipped`). */
    reason: text("reason"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.fireAt] }),
    check("schedule_firings_outcome_check", allowedValues("outcome", SCHEDULE_FIRING_OUTCOMES)),
  ],
);

export const flowEvents = pgTable(
  "flow_events",
  {
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    type: enumText("type", FlowEventTypeSchema.options).notNull(),
    stepId: text("step_id"),
    data: jsonb("data"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.seq] })],
);

/**
 * The transactional outbox of a flow's durable events (every event but `step_start` and
 * `step_progress`): written in the transaction that commits what the event says, published
 * to Redis after it commits (once per `key`), and deleted once the flow's events are archived
 * to `flow_events`. The scheduler's relay publishes what a crash or a Redis wipe left
 * unpublished, in `id` order per flow. No foreign key: its check would lock the flow row
 * (FOR KEY SHARE) from the steps that end without that lock; the relay drops the rows of a
 * deleted flow.
 */
export const flowEventOutbox = pgTable(
  "flow_event_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** Publish-once key: the Redis side remembers which keys a flow's stream has. */
    key: text("key").notNull(),
    flowId: text("flow_id").notNull(),
    type: enumText("type", FlowEventTypeSchema.options).notNull(),
    stepId: text("step_id"),
    data: jsonb("data"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [index("flow_event_outbox_flow_idx").on(t.flowId, t.id)],
);

/**
 * The provider catalog: every provider a worker pool has served. A row stays when its pool
 * scales to zero, so flows naming the provider are still accepted (and wait in its queue).
 */
export const providers = pgTable("providers", {
  key: text("key").primaryKey(),
  /** The models its workers allow (WORKER_MODELS), as the last worker to register it said; null: any model. */
  models: text("models").array(),
  /** Its cluster-wide rate limits (PROVIDER_RATE_LIMITS entries `key` and `key:model`), as its workers run with them. */
  limits: jsonb("limits").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: createdAt(),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Which worker process serves which provider, with its heartbeat (live = a recent heartbeat). */
export const providerWorkers = pgTable(
  "provider_workers",
  {
    workerId: text("worker_id").notNull(),
    provider: text("provider")
      .notNull()
      .references(() => providers.key, { onDelete: "cascade" }),
    models: text("models").array(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workerId, t.provider] }),
    index("provider_workers_heartbeat_idx").on(t.provider, t.heartbeatAt),
  ],
);
