import {
  ContextPolicySchema,
  DataSharingPolicySchema,
  FlowDefinitionSchema,
  FlowExecutionResultSchema,
  FlowStepResultSchema,
  FlowStepSchema,
  FlowStreamUpdateSchema,
  StepErrorSchema,
  TokenUsageSchema,
  LlmStepSchema,
  ApprovalStepSchema,
} from "@ensemble/core";
import { z } from "zod";
import { ADMIN_SESSION_COOKIE } from "../auth/queue-board-auth.js";
import {
  ApproveStepBody,
  CreateFlowBody,
  CreateMessageBody,
  CreateThreadBody,
  CreateUserBody,
  CompareQuery,
  ExecuteFlowBody,
  ListApprovalsQuery,
  ListFlowsQuery,
  ListThreadsQuery,
  PutMemberBody,
  StepPageQuery,
  PutPolicyBody,
  RerunBody,
  PutUserLimitsBody,
  CreateScheduleBody,
  UsageQuery,
} from "../http/request-schemas.js";
import * as responses from "./response-schemas.js";

/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`), generated with
 * `z.toJSONSchema` from the zod schemas that validate the requests (http/request-schemas.ts,
 * the flow definition schema of @ensemble/core) and describe the responses
 * (openapi/response-schemas.ts). OpenAPI 3.1 schemas are JSON Schema 2020-12, zod's target.
 */

type Method = "get" | "post" | "put" | "delete";
type Auth = "apiKey" | "admin" | "adminBoard" | "none";

interface ResponseSpec {
  description: string;
  /** A component schema name, or inline JSON Schema. */
  schema?: string | Record<string, unknown>;
  contentType?: string;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

interface OperationSpec {
  method: Method;
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  /** Descriptions of the `{placeholders}` in the path. */
  pathParams?: Record<string, string>;
  query?: z.ZodObject;
  headers?: { name: string; description: string; required?: boolean }[];
  /** A component schema name. */
  body?: string;
  responses: Record<string, ResponseSpec>;
  /** Error statuses (components/responses) besides the ones every route of its auth kind has. */
  errors?: number[];
}

const TEMPLATE_PARAMETERS = z
  .record(z.string(), z.unknown())
  .describe("the template's parameters (GET /v1/templates lists them)");

/** Named schemas: components/schemas/<name>, referenced with $ref wherever they appear. */
const NAMED_SCHEMAS: Record<string, z.ZodType> = {
  // requests
  CreateUserBody,
  CreateThreadBody,
  PutMemberBody,
  CreateMessageBody,
  PutPolicyBody,
  // The route accepts any JSON here and hands it to the flow compiler, which validates it
  // with FlowDefinitionSchema (and the DAG, template and CEL checks JSON Schema cannot say).
  CreateFlowBody: CreateFlowBody.extend({ definition: FlowDefinitionSchema }),
  ExecuteFlowBody,
  RerunBody,
  PutUserLimitsBody,
  CreateScheduleBody,
  TemplateParameters: TEMPLATE_PARAMETERS,
  // the flow language and results (shared by requests and responses)
  FlowDefinition: FlowDefinitionSchema,
  FlowStep: FlowStepSchema,
  LlmStep: LlmStepSchema,
  ApprovalStep: ApprovalStepSchema,
  ContextPolicy: ContextPolicySchema,
  TokenUsage: TokenUsageSchema,
  StepError: StepErrorSchema,
  FlowStepResult: FlowStepResultSchema,
  FlowExecutionResult: FlowExecutionResultSchema,
  FlowEvent: FlowStreamUpdateSchema,
  DataSharingPolicy: DataSharingPolicySchema,
  // responses
  Error: responses.ErrorBody,
  User: responses.UserResponse,
  ApiKeyCreated: responses.ApiKeyCreatedResponse,
  ApiKey: responses.ApiKeyResponse,
  ApiKeyList: responses.ApiKeyListResponse,
  ProviderList: responses.ProviderListResponse,
  Thread: responses.ThreadResponse,
  ThreadMember: responses.ThreadMemberResponse,
  Message: responses.MessageResponse,
  MessageList: responses.MessageListResponse,
  PolicyList: responses.PolicyListResponse,
  Flow: responses.FlowResponse,
  FlowList: responses.FlowListResponse,
  ThreadList: responses.ThreadListResponse,
  FlowGraph: responses.FlowGraphResponse,
  StepPage: responses.StepPageResponse,
  ExecuteAccepted: responses.ExecuteAcceptedResponse,
  CancelAccepted: responses.CancelAcceptedResponse,
  ApproveStepBody,
  ApprovalDecided: responses.ApprovalDecidedResponse,
  ApprovalList: responses.ApprovalListResponse,
  FlowStatus: responses.FlowStatusResponse,
  RunList: responses.RunListResponse,
  RunDetail: responses.RunDetailResponse,
  RerunAccepted: responses.RerunAcceptedResponse,
  RunComparison: responses.RunComparisonResponse,
  TemplateList: responses.TemplateListResponse,
  UserLimits: responses.UserLimitsResponse,
  Usage: responses.UsageResponse,
  Schedule: responses.ScheduleResponse,
  ScheduleList: responses.ScheduleListResponse,
  Health: responses.HealthResponse,
  Readiness: responses.ReadinessResponse,
};

const ERROR_RESPONSES: Record<number, { name: string; description: string; retryAfter?: boolean }> = {
  400: { name: "ValidationError", description: "`validation_error`: `details` names each bad field by its path" },
  401: { name: "Unauthorized", description: "`unauthorized`: missing, unknown or revoked credentials" },
  402: {
    name: "BudgetExceeded",
    description:
      "`budget_exceeded`: the caller's spend reached a spend cap; the message names the cap and period, `details` give `period`, `capUsd`, `spentUsd` and `resetsAt`",
    retryAfter: true,
  },
  403: {
    name: "Forbidden",
    description:
      "`forbidden` (a member of the thread without the permission this needs; `details` name it) or `policy_violation`",
  },
  404: { name: "NotFound", description: "`not_found`, also for what belongs to someone else" },
  409: { name: "Conflict", description: "`conflict`: the resource's state forbids this (e.g. the flow is running)" },
  413: { name: "PayloadTooLarge", description: "`payload_too_large`: the body is over MAX_BODY_BYTES" },
  415: {
    name: "UnsupportedMediaType",
    description: "`unsupported_media_type`: send the body as JSON (Content-Type: application/json)",
  },
  429: {
    name: "RateLimited",
    description:
      "`rate_limited`: the key's request rate is spent, or (event streams) it has MAX_STREAMS_PER_KEY streams open",
    retryAfter: true,
  },
  500: { name: "Internal", description: "`internal`: no stack, no secret; the server logged it" },
  503: { name: "Unavailable", description: "`unavailable`: Redis is unreachable", retryAfter: true },
};

/** Errors every route of an auth kind can answer. */
const COMMON_ERRORS: Record<Auth, number[]> = {
  apiKey: [401, 429, 500, 503],
  admin: [401, 404, 500],
  adminBoard: [401, 404],
  none: [],
};

const json = (schema: string): ResponseSpec["schema"] => schema;
const WAIT_QUERY = z.object({
  wait: z
    .enum(["true", "false"])
    .optional()
    .describe("true: hold the request until the run ends and answer with its result"),
});
const IDEMPOTENCY_HEADER = {
  name: "Idempotency-Key",
  description:
    "a repeated request with the same key (same caller, same body) returns the first answer and starts nothing new",
};

const OPERATIONS: OperationSpec[] = [
  // Admin
  {
    method: "post",
    path: "/v1/admin/users",
    operationId: "createUser",
    tag: "admin",
    summary: "Create a user",
    auth: "admin",
    body: "CreateUserBody",
    responses: { 201: { description: "the user", schema: json("User") } },
    errors: [400, 409],
  },
  {
    method: "post",
    path: "/v1/admin/users/{userId}/api-keys",
    operationId: "createApiKey",
    tag: "admin",
    summary: "Create an API key for a user",
    description: "The key is in this response only; it is stored as its SHA-256.",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 201: { description: "the new key", schema: json("ApiKeyCreated") } },
  },
  {
    method: "get",
    path: "/v1/admin/users/{userId}/api-keys",
    operationId: "listApiKeys",
    tag: "admin",
    summary: "List a user's API keys, revoked ones included, newest first",
    description: "Ids, prefixes and dates only: the secret is never stored.",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 200: { description: "the user's keys", schema: json("ApiKeyList") } },
  },
  {
    method: "delete",
    path: "/v1/admin/users/{userId}/api-keys/{keyId}",
    operationId: "revokeApiKey",
    tag: "admin",
    summary: "Revoke an API key",
    description:
      "From the next request on, the key is 401 `unauthorized` on the API process that answered, and within KEY_CACHE_TTL_MS (default 1 s) on every other. Revoking a revoked key changes nothing (it keeps its first `revokedAt`).",
    auth: "admin",
    pathParams: { userId: "the user", keyId: "the key's id (not the key)" },
    responses: { 200: { description: "the revoked key", schema: json("ApiKey") } },
  },
  {
    method: "put",
    path: "/v1/admin/users/{userId}/limits",
    operationId: "putUserLimits",
    tag: "admin",
    summary: "Set a user's spend caps and step limit",
    description:
      "An absent field keeps its value, null clears it. Once the ledger's spend in the UTC day (dailyUsd) or UTC month (monthlyUsd) reaches a cap, the user's executes answer 402 `budget_exceeded` and their running runs stop at their next step commit.",
    auth: "admin",
    pathParams: { userId: "the user" },
    body: "PutUserLimitsBody",
    responses: { 200: { description: "the limits and the spend in each period", schema: json("UserLimits") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/admin/users/{userId}/limits",
    operationId: "getUserLimits",
    tag: "admin",
    summary: "A user's spend caps and step limit, with the spend in each period",
    auth: "admin",
    pathParams: { userId: "the user" },
    responses: { 200: { description: "the limits", schema: json("UserLimits") } },
  },
  {
    method: "get",
    path: "/admin/login",
    operationId: "adminLogin",
    tag: "operations",
    summary: "Log in to Bull Board in a browser",
    description:
      "Starts a session (Redis, ADMIN_SESSION_TTL_SECONDS), sets its id as the `ensemble_admin` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, path /admin) and redirects to /admin/queues. The cookie opens Bull Board only, not /v1/admin.",
    auth: "none",
    query: z.object({ token: z.string().describe("ADMIN_TOKEN") }),
    responses: {
      303: {
        description: "logged in; redirect to /admin/queues",
        headers: { "Set-Cookie": { description: "ensemble_admin=<session id>", schema: { type: "string" } } },
      },
    },
    errors: [401, 404],
  },
  {
    method: "get",
    path: "/admin/queues",
    operationId: "queueBoard",
    tag: "operations",
    summary: "Bull Board: the queues and their jobs (HTML)",
    description:
      "Off (404) without ADMIN_TOKEN. Its JSON API is under /admin/queues/api/… (same auth); a write there with the session cookie must be same-origin (Sec-Fetch-Site or Origin), else 403.",
    auth: "adminBoard",
    responses: { 200: { description: "the Bull Board page", contentType: "text/html", schema: { type: "string" } } },
  },
  // Threads
  {
    method: "post",
    path: "/v1/threads",
    operationId: "createThread",
    tag: "threads",
    summary: "Create a thread (the caller owns it)",
    auth: "apiKey",
    body: "CreateThreadBody",
    responses: { 201: { description: "the thread", schema: json("Thread") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/threads",
    operationId: "listThreads",
    tag: "threads",
    summary: "The threads the caller may read (owns, or is a member with read), newest first",
    auth: "apiKey",
    query: ListThreadsQuery,
    responses: { 200: { description: "one page", schema: json("ThreadList") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/threads/{threadId}",
    operationId: "getThread",
    tag: "threads",
    summary: "Get a thread",
    auth: "apiKey",
    responses: { 200: { description: "the thread", schema: json("Thread") } },
    errors: [403, 404],
  },
  {
    method: "put",
    path: "/v1/threads/{threadId}/members/{userId}",
    operationId: "putThreadMember",
    tag: "threads",
    summary: "Set a member's permissions (owner only)",
    auth: "apiKey",
    pathParams: { userId: "the member" },
    body: "PutMemberBody",
    responses: { 200: { description: "the membership", schema: json("ThreadMember") } },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: "/v1/threads/{threadId}/messages",
    operationId: "createMessage",
    tag: "threads",
    summary: "Add a message to a thread",
    auth: "apiKey",
    body: "CreateMessageBody",
    responses: { 201: { description: "the message", schema: json("Message") } },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/threads/{threadId}/messages",
    operationId: "listMessages",
    tag: "threads",
    summary: "The thread's history",
    auth: "apiKey",
    responses: { 200: { description: "the messages, oldest first", schema: json("MessageList") } },
    errors: [403, 404],
  },
  // Policies
  {
    method: "put",
    path: "/v1/policies/{providerKey}",
    operationId: "putPolicy",
    tag: "policies",
    summary: "Set the caller's data-sharing policy for a provider",
    auth: "apiKey",
    pathParams: { providerKey: "openai, anthropic, google, sim or a configured endpoint's name" },
    body: "PutPolicyBody",
    responses: { 200: { description: "the policy", schema: json("DataSharingPolicy") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/policies",
    operationId: "listPolicies",
    tag: "policies",
    summary: "The caller's data-sharing policies",
    auth: "apiKey",
    responses: { 200: { description: "the policies", schema: json("PolicyList") } },
  },
  // Flows
  {
    method: "post",
    path: "/v1/flows",
    operationId: "createFlow",
    tag: "flows",
    summary: "Validate and store a flow (needs write on the thread)",
    description:
      "The definition is validated in full here — schema, step graph, templates, CEL conditions — before anything is queued.",
    auth: "apiKey",
    body: "CreateFlowBody",
    responses: { 201: { description: "the flow", schema: json("Flow") } },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}",
    operationId: "getFlow",
    tag: "flows",
    summary: "The flow with its latest run's stepResults",
    auth: "apiKey",
    responses: { 200: { description: "the flow", schema: json("Flow") } },
    errors: [403, 404],
  },
  {
    method: "delete",
    path: "/v1/flows/{flowId}",
    operationId: "deleteFlow",
    tag: "flows",
    summary: "Delete a flow (needs delete; not while queued or running)",
    auth: "apiKey",
    responses: { 204: { description: "deleted" } },
    errors: [403, 404, 409],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/graph",
    operationId: "getFlowGraph",
    tag: "flows",
    summary: "The flow's steps and what each waits for, as the engine orders them",
    auth: "apiKey",
    responses: { 200: { description: "the graph", schema: json("FlowGraph") } },
    errors: [403, 404],
  },
  {
    method: "get",
    path: "/v1/threads/{threadId}/flows",
    operationId: "listFlows",
    tag: "flows",
    summary: "The thread's flows",
    auth: "apiKey",
    query: ListFlowsQuery,
    responses: { 200: { description: "one page", schema: json("FlowList") } },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/execute",
    operationId: "executeFlow",
    tag: "flows",
    summary: "Run the flow",
    auth: "apiKey",
    query: WAIT_QUERY,
    headers: [IDEMPOTENCY_HEADER],
    body: "ExecuteFlowBody",
    responses: {
      200: {
        description: "with ?wait=true (needs read as well as write): the run's result once it ended",
        schema: json("FlowExecutionResult"),
      },
      202: {
        description: "queued (or, with ?wait=true, still running when the wait ran out)",
        schema: json("ExecuteAccepted"),
      },
    },
    errors: [400, 402, 403, 404, 409],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/steps/{stepId}/execute",
    operationId: "executeStep",
    tag: "flows",
    summary: "Run one step of the flow alone (a run of just that step, its input the request's)",
    auth: "apiKey",
    pathParams: { stepId: "a step id of the flow's definition" },
    query: WAIT_QUERY,
    headers: [IDEMPOTENCY_HEADER],
    // The route validates its body with the flow's execute schema.
    body: "ExecuteFlowBody",
    responses: {
      200: {
        description: "with ?wait=true (needs read as well as write): the step's result",
        schema: json("FlowStepResult"),
      },
      202: {
        description: "queued (or, with ?wait=true, still running when the wait ran out)",
        schema: json("ExecuteAccepted"),
      },
    },
    errors: [400, 402, 403, 404, 409],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/cancel",
    operationId: "cancelFlow",
    tag: "flows",
    summary: "Cancel the running flow; provider calls are aborted within a second",
    auth: "apiKey",
    responses: { 202: { description: "cancelling; the flow ends `cancelled`", schema: json("CancelAccepted") } },
    errors: [403, 404, 409],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/steps/{stepId}/approve",
    operationId: "approveStep",
    tag: "flows",
    summary: "Decide a waiting approval step (needs write on the thread); the run goes on at once",
    description:
      "Of racing decisions exactly one wins; the others get 409. `data` must match the step's responseSchema (400 names the path under `data`). An unhandled reject ends the run `failed` with code `rejected`.",
    auth: "apiKey",
    pathParams: { stepId: "an approval step of the flow's definition" },
    body: "ApproveStepBody",
    responses: { 200: { description: "decided: the step's output", schema: json("ApprovalDecided") } },
    errors: [400, 403, 404, 409],
  },
  {
    method: "get",
    path: "/v1/approvals",
    operationId: "listApprovals",
    tag: "flows",
    summary: "The approval steps waiting for a decision the caller may take (threads they own or may write to)",
    auth: "apiKey",
    query: ListApprovalsQuery,
    responses: { 200: { description: "oldest first", schema: json("ApprovalList") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/steps",
    operationId: "listFlowSteps",
    tag: "flows",
    summary: "The latest run's step results, a page at a time",
    description:
      "A page ends at `limit` results, or after the result that brings its outputs to 1 000 000 characters (at least one result per page).",
    auth: "apiKey",
    query: StepPageQuery,
    responses: { 200: { description: "one page", schema: json("StepPage") } },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/runs",
    operationId: "listRuns",
    tag: "runs",
    summary: "Every run of the flow, oldest first, with its status, times, cost, tokens and what it reran",
    auth: "apiKey",
    responses: { 200: { description: "the runs", schema: json("RunList") } },
    errors: [403, 404],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/runs/{run}",
    operationId: "getRun",
    tag: "runs",
    summary: "One run: its step results and the definition it executed",
    auth: "apiKey",
    pathParams: { run: "a run number (1, 2, …)" },
    responses: { 200: { description: "the run", schema: json("RunDetail") } },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/runs/{run}/rerun",
    operationId: "rerun",
    tag: "runs",
    summary: "A new run from one step of an earlier run, with overrides; the steps before it are reused",
    description:
      "Steps that neither are `fromStep` nor depend on it are copied from the source run (`reusedFrom`): no provider call, no ledger row, no cost. `fromStep` and everything after it run again with the overrides; a step inside the loop restarts the loop. The source run is not changed.",
    auth: "apiKey",
    pathParams: { run: "the run to rerun" },
    headers: [IDEMPOTENCY_HEADER],
    body: "RerunBody",
    responses: { 202: { description: "the new run, queued", schema: json("RerunAccepted") } },
    errors: [400, 403, 404, 409],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/compare",
    operationId: "compareRuns",
    tag: "runs",
    summary: "Two runs side by side: each step's result in both, a word diff of the outputs, the totals",
    auth: "apiKey",
    query: CompareQuery,
    responses: { 200: { description: "the comparison", schema: json("RunComparison") } },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/status",
    operationId: "getFlowStatus",
    tag: "flows",
    summary: "Progress of the latest run",
    auth: "apiKey",
    responses: { 200: { description: "the status", schema: json("FlowStatus") } },
    errors: [403, 404],
  },
  {
    method: "post",
    path: "/v1/flows/{flowId}/schedules",
    operationId: "createSchedule",
    tag: "schedules",
    summary: "Run the flow on a cron schedule, as the caller",
    description:
      "Each firing starts one run (at most one per firing time), or is recorded as skipped when the caller's spend cap is reached or the flow is still running. Needs what an execute needs.",
    auth: "apiKey",
    body: "CreateScheduleBody",
    responses: { 201: { description: "the schedule", schema: json("Schedule") } },
    errors: [400, 403, 404, 409],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/schedules",
    operationId: "listSchedules",
    tag: "schedules",
    summary: "The flow's schedules, each with its latest firings",
    auth: "apiKey",
    responses: { 200: { description: "the schedules", schema: json("ScheduleList") } },
    errors: [403, 404],
  },
  {
    method: "delete",
    path: "/v1/flows/{flowId}/schedules/{scheduleId}",
    operationId: "deleteSchedule",
    tag: "schedules",
    summary: "Delete a schedule: it fires no more",
    auth: "apiKey",
    pathParams: { scheduleId: "the schedule" },
    responses: { 204: { description: "deleted" } },
    errors: [403, 404],
  },
  {
    method: "get",
    path: "/v1/usage",
    operationId: "getUsage",
    tag: "usage",
    summary: "The caller's spend and tokens from the ledger, optionally grouped",
    description: "Default period: this UTC month so far. Usage is billed to the user who executed each run.",
    auth: "apiKey",
    query: UsageQuery,
    responses: { 200: { description: "totals and groups", schema: json("Usage") } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/events",
    operationId: "streamFlowEvents",
    tag: "events",
    summary: "The flow's progress events as Server-Sent Events",
    description:
      "Each SSE message has `id` (per flow, increasing), `event` (the type) and `data` (a FlowEvent as JSON). Reconnect with `Last-Event-ID` to get every later event; after the flow ended the whole history is sent and the stream closes.",
    auth: "apiKey",
    query: z.object({
      lastEventId: z
        .string()
        .regex(/^\d+$/)
        .optional()
        .describe("resume after this event id (the Last-Event-ID header wins)"),
    }),
    headers: [{ name: "Last-Event-ID", description: "resume after this event id" }],
    responses: {
      200: {
        description: "the event stream; each data line is a FlowEvent",
        contentType: "text/event-stream",
        schema: { type: "string" },
      },
    },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/flows/{flowId}/ws",
    operationId: "streamFlowEventsWebSocket",
    tag: "events",
    summary: "The same events over WebSocket (one FlowEvent JSON per text message)",
    auth: "apiKey",
    query: z.object({ lastEventId: z.string().regex(/^\d+$/).optional().describe("resume after this event id") }),
    headers: [
      { name: "Last-Event-ID", description: "resume after this event id" },
      { name: "Upgrade", description: "websocket", required: true },
    ],
    responses: { 101: { description: "switching to WebSocket; messages are FlowEvent JSON" } },
    errors: [400, 403, 404],
  },
  // Providers
  {
    method: "get",
    path: "/v1/providers",
    operationId: "listProviders",
    tag: "providers",
    summary: "The providers this cluster serves, their live workers and limits",
    description:
      "The provider catalog: every provider a worker pool has registered, kept when the pool scales to zero. A flow naming another provider is refused (400 naming `definition.steps[i].provider`). No keys or base URLs.",
    auth: "apiKey",
    responses: { 200: { description: "the providers", schema: json("ProviderList") } },
  },
  // Templates
  {
    method: "get",
    path: "/v1/templates",
    operationId: "listTemplates",
    tag: "templates",
    summary: "The seven flow templates and their parameters",
    auth: "apiKey",
    responses: { 200: { description: "the templates", schema: json("TemplateList") } },
  },
  {
    method: "post",
    path: "/v1/templates/{name}",
    operationId: "buildTemplate",
    tag: "templates",
    summary: "Build a FlowDefinition from a template",
    auth: "apiKey",
    pathParams: { name: "a template's name or alias" },
    body: "TemplateParameters",
    responses: { 200: { description: "the definition, ready for POST /v1/flows", schema: json("FlowDefinition") } },
    errors: [400, 404],
  },
  // Operations
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    tag: "operations",
    summary: "The process is up",
    auth: "none",
    responses: { 200: { description: "up", schema: json("Health") } },
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "ready",
    tag: "operations",
    summary: "Redis and Postgres are reachable",
    auth: "none",
    responses: {
      200: { description: "ready", schema: json("Readiness") },
      503: {
        description: "not ready; `down` names what is unreachable, or the process is draining (shutting down)",
        schema: json("Readiness"),
        headers: { "Retry-After": { description: "seconds", schema: { type: "integer" } } },
      },
    },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    tag: "operations",
    summary: "Prometheus metrics (docs/operations.md lists them)",
    auth: "none",
    responses: {
      200: { description: "Prometheus text format 0.0.4", contentType: "text/plain", schema: { type: "string" } },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    tag: "operations",
    summary: "This document",
    auth: "none",
    responses: { 200: { description: "OpenAPI 3.1", schema: { type: "object" } } },
  },
];

const PATH_PARAM_DESCRIPTIONS: Record<string, string> = { threadId: "a thread id", flowId: "a flow id" };

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  apiKey: [{ apiKey: [] }],
  admin: [{ adminToken: [] }],
  adminBoard: [{ adminToken: [] }, { adminCookie: [] }],
  none: [],
};

/** Strips what a standalone JSON Schema carries but an embedded one must not. */
function embedded(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function componentSchemas(): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  // "input": what a client may send (defaults make fields optional); response schemas have no defaults.
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [id, embedded(schema as Record<string, unknown>)]),
  );
}

function schemaOf(schema: ResponseSpec["schema"]): Record<string, unknown> | undefined {
  if (schema === undefined) return undefined;
  return typeof schema === "string" ? { $ref: `#/components/schemas/${schema}` } : schema;
}

function parameters(op: OperationSpec): Record<string, unknown>[] {
  const params: Record<string, unknown>[] = [];
  for (const [, name] of op.path.matchAll(/\{([^}]+)\}/g)) {
    params.push({
      name,
      in: "path",
      required: true,
      description: op.pathParams?.[name as string] ?? PATH_PARAM_DESCRIPTIONS[name as string] ?? name,
      schema: { type: "string" },
    });
  }
  for (const [name, field] of Object.entries(op.query?.shape ?? {})) {
    const schema = embedded(
      z.toJSONSchema(field as z.ZodType, { target: "draft-2020-12", io: "input", unrepresentable: "any" }),
    );
    const { description, ...rest } = schema;
    params.push({
      name,
      in: "query",
      required: !(field as z.ZodType).safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: rest,
    });
  }
  for (const header of op.headers ?? []) {
    params.push({
      name: header.name,
      in: "header",
      required: header.required ?? false,
      description: header.description,
      schema: { type: "string" },
    });
  }
  return params;
}

function operation(op: OperationSpec): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    const schema = schemaOf(spec.schema);
    result[status] = {
      description: spec.description,
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(schema ? { content: { [spec.contentType ?? "application/json"]: { schema } } } : {}),
    };
  }
  // A route with a body can also answer 413 and 415 (the JSON body parser runs before it).
  const bodyErrors = op.body ? [413, 415] : [];
  const errors = [...new Set([...COMMON_ERRORS[op.auth], ...(op.errors ?? []), ...bodyErrors])].sort();
  for (const status of errors) {
    const known = ERROR_RESPONSES[status];
    if (known && !(String(status) in result)) result[status] = { $ref: `#/components/responses/${known.name}` };
  }
  const params = parameters(op);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.auth],
    ...(params.length ? { parameters: params } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: !NAMED_SCHEMAS[op.body]?.safeParse({}).success,
            content: { "application/json": { schema: { $ref: `#/components/schemas/${op.body}` } } },
          },
        }
      : {}),
    responses: result,
  };
}

/** Builds the document (a plain object; serve it as JSON). */
export function buildOpenApiDocument(options: { version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = operation(op);
  }
  const errorResponses = Object.fromEntries(
    Object.values(ERROR_RESPONSES).map((e) => [
      e.name,
      {
        description: e.description,
        ...(e.retryAfter
          ? {
              headers: {
                "Retry-After": { description: "seconds to wait before retrying", schema: { type: "integer" } },
              },
            }
          : {}),
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "Ensemble API",
      version: options.version ?? "0.1.0",
      description:
        "Runs multi-model LLM flows on a queue-based worker cluster. Every /v1 route needs `Authorization: Bearer <api key>`; errors are `{ error: { code, message, details } }`.",
    },
    tags: [
      "admin",
      "threads",
      "policies",
      "flows",
      "runs",
      "schedules",
      "usage",
      "events",
      "providers",
      "templates",
      "operations",
    ].map((name) => ({ name })),
    paths,
    components: {
      schemas: componentSchemas(),
      responses: errorResponses,
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "an API key (`ens_…`) from POST /v1/admin/users/{userId}/api-keys; it names the calling user",
        },
        adminToken: {
          type: "http",
          scheme: "bearer",
          description: "ADMIN_TOKEN (admin routes are off while it is unset)",
        },
        adminCookie: {
          type: "apiKey",
          in: "cookie",
          name: ADMIN_SESSION_COOKIE,
          description:
            "a session id set by GET /admin/login?token=<ADMIN_TOKEN>, for Bull Board in a browser; writes with it must be same-origin",
        },
      },
    },
  };
}
