import { z } from "zod";
import { FlowDefinitionSchema } from "../schema/flow-definition.js";
import { DataSharingPolicySchema, FlowExecutionResultSchema, FlowStepResultSchema } from "../schema/results.js";
import { contractRoute } from "./http-route.js";
import * as req from "./request-schemas.js";
import * as res from "./response-schemas.js";

// The routes an API key calls, each once: its method, path, request schemas and answers. The
// API binds its handlers to these (apps/api/src/routes), the OpenAPI document is generated from
// them, and the SDK builds its requests and takes its types from them. Admin and operational
// routes (users, keys, limits, health, metrics) are the API's own.

const queued = "queued (or, with ?wait=true, still running when the wait ran out)";

// ── Threads, messages, policies ──────────────────────────────────────────────

export const createThread = contractRoute({
  method: "post",
  path: "/v1/threads",
  operationId: "createThread",
  body: req.CreateThreadBody,
  responses: { 201: { description: "the thread", schema: res.ThreadResponse } },
});
export const listThreads = contractRoute({
  method: "get",
  path: "/v1/threads",
  operationId: "listThreads",
  query: req.ListThreadsQuery,
  responses: { 200: { description: "one page", schema: res.ThreadListResponse } },
});
export const getThread = contractRoute({
  method: "get",
  path: "/v1/threads/{threadId}",
  operationId: "getThread",
  responses: { 200: { description: "the thread", schema: res.ThreadResponse } },
});
export const putThreadMember = contractRoute({
  method: "put",
  path: "/v1/threads/{threadId}/members/{userId}",
  operationId: "putThreadMember",
  body: req.PutMemberBody,
  responses: { 200: { description: "the membership", schema: res.ThreadMemberResponse } },
});
export const createMessage = contractRoute({
  method: "post",
  path: "/v1/threads/{threadId}/messages",
  operationId: "createMessage",
  body: req.CreateMessageBody,
  responses: { 201: { description: "the message", schema: res.MessageResponse } },
});
export const listMessages = contractRoute({
  method: "get",
  path: "/v1/threads/{threadId}/messages",
  operationId: "listMessages",
  responses: { 200: { description: "the messages, oldest first", schema: res.MessageListResponse } },
});
export const putPolicy = contractRoute({
  method: "put",
  path: "/v1/policies/{providerKey}",
  operationId: "putPolicy",
  body: req.PutPolicyBody,
  responses: { 200: { description: "the policy", schema: DataSharingPolicySchema } },
});
export const listPolicies = contractRoute({
  method: "get",
  path: "/v1/policies",
  operationId: "listPolicies",
  responses: { 200: { description: "the policies", schema: res.PolicyListResponse } },
});

// ── Flows ────────────────────────────────────────────────────────────────────

export const createFlow = contractRoute({
  method: "post",
  path: "/v1/flows",
  operationId: "createFlow",
  body: req.CreateFlowBody,
  responses: { 201: { description: "the flow", schema: res.FlowResponse } },
});
export const getFlow = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}",
  operationId: "getFlow",
  responses: { 200: { description: "the flow", schema: res.FlowResponse } },
});
export const deleteFlow = contractRoute({
  method: "delete",
  path: "/v1/flows/{flowId}",
  operationId: "deleteFlow",
  responses: { 204: { description: "deleted" } },
});
export const getFlowGraph = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/graph",
  operationId: "getFlowGraph",
  responses: { 200: { description: "the graph", schema: res.FlowGraphResponse } },
});
export const listFlows = contractRoute({
  method: "get",
  path: "/v1/threads/{threadId}/flows",
  operationId: "listFlows",
  query: req.ListFlowsQuery,
  responses: { 200: { description: "one page", schema: res.FlowListResponse } },
});
export const executeFlow = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/execute",
  operationId: "executeFlow",
  query: req.WaitQuery,
  body: req.ExecuteFlowBody,
  responses: {
    200: {
      description: "with ?wait=true (needs read as well as write): the run's result once it ended",
      schema: FlowExecutionResultSchema,
    },
    202: { description: queued, schema: res.ExecuteAcceptedResponse },
  },
});
export const executeStep = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/steps/{stepId}/execute",
  operationId: "executeStep",
  query: req.WaitQuery,
  // Its body is the flow execute's.
  body: req.ExecuteFlowBody,
  responses: {
    200: {
      description: "with ?wait=true (needs read as well as write): the step's result",
      schema: FlowStepResultSchema,
    },
    202: { description: queued, schema: res.ExecuteAcceptedResponse },
  },
});
export const cancelFlow = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/cancel",
  operationId: "cancelFlow",
  responses: { 202: { description: "cancelling; the flow ends `cancelled`", schema: res.CancelAcceptedResponse } },
});
export const listFlowSteps = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/steps",
  operationId: "listFlowSteps",
  query: req.StepPageQuery,
  responses: { 200: { description: "one page", schema: res.StepPageResponse } },
});
export const getFlowStatus = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/status",
  operationId: "getFlowStatus",
  responses: { 200: { description: "the status", schema: res.FlowStatusResponse } },
});
export const streamFlowEvents = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/events",
  operationId: "streamFlowEvents",
  query: req.EventStreamQuery,
  responses: {
    200: {
      description: "the event stream; each data line is a FlowEvent",
      contentType: "text/event-stream",
      schema: z.string(),
    },
  },
});

// ── Approvals ────────────────────────────────────────────────────────────────

export const approveStep = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/steps/{stepId}/approve",
  operationId: "approveStep",
  body: req.ApproveStepBody,
  responses: { 200: { description: "decided: the step's output", schema: res.ApprovalDecidedResponse } },
});
export const listApprovals = contractRoute({
  method: "get",
  path: "/v1/approvals",
  operationId: "listApprovals",
  query: req.ListApprovalsQuery,
  responses: { 200: { description: "oldest first", schema: res.ApprovalListResponse } },
});

// ── Runs ─────────────────────────────────────────────────────────────────────

export const listRuns = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/runs",
  operationId: "listRuns",
  responses: { 200: { description: "the runs", schema: res.RunListResponse } },
});
export const getRun = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/runs/{run}",
  operationId: "getRun",
  responses: { 200: { description: "the run", schema: res.RunDetailResponse } },
});
export const rerun = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/runs/{run}/rerun",
  operationId: "rerun",
  body: req.RerunBody,
  responses: { 202: { description: "the new run, queued", schema: res.RerunAcceptedResponse } },
});
export const compareRuns = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/compare",
  operationId: "compareRuns",
  query: req.CompareQuery,
  responses: { 200: { description: "the comparison", schema: res.RunComparisonResponse } },
});

// ── Schedules, usage, templates ──────────────────────────────────────────────

export const createSchedule = contractRoute({
  method: "post",
  path: "/v1/flows/{flowId}/schedules",
  operationId: "createSchedule",
  body: req.CreateScheduleBody,
  responses: { 201: { description: "the schedule", schema: res.ScheduleResponse } },
});
export const listSchedules = contractRoute({
  method: "get",
  path: "/v1/flows/{flowId}/schedules",
  operationId: "listSchedules",
  responses: { 200: { description: "the schedules", schema: res.ScheduleListResponse } },
});
export const deleteSchedule = contractRoute({
  method: "delete",
  path: "/v1/flows/{flowId}/schedules/{scheduleId}",
  operationId: "deleteSchedule",
  responses: { 204: { description: "deleted" } },
});
export const getUsage = contractRoute({
  method: "get",
  path: "/v1/usage",
  operationId: "getUsage",
  query: req.UsageQuery,
  responses: { 200: { description: "totals and groups", schema: res.UsageResponse } },
});
export const listTemplates = contractRoute({
  method: "get",
  path: "/v1/templates",
  operationId: "listTemplates",
  responses: { 200: { description: "the templates", schema: res.TemplateListResponse } },
});
export const buildTemplate = contractRoute({
  method: "post",
  path: "/v1/templates/{name}",
  operationId: "buildTemplate",
  body: req.TemplateParameters,
  responses: { 200: { description: "the definition, ready for POST /v1/flows", schema: FlowDefinitionSchema } },
});
