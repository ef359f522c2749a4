import { decideApproval } from "@ensemble/engine";
import { listWaitingApprovals } from "@ensemble/db";
import { ApproveStepBody, ListApprovalsQuery } from "../http/request-schemas.js";
import { requireFlowPermission } from "../http/thread-access.js";
import * as responses from "../openapi/response-schemas.js";
import { defineRoute } from "./api-route.js";

/** Approval steps: deciding one, and the list of those waiting for the caller. */
export const approvalRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/flows/{flowId}/steps/{stepId}/approve",
    operationId: "approveStep",
    tag: "flows",
    summary: "Decide a waiting approval step (needs write on the thread); the run goes on at once",
    description:
      "Of racing decisions exactly one wins; the others get 409. `data` must match the step's responseSchema (400 names the path under `data`). An unhandled reject ends the run `failed` with code `rejected`.",
    auth: "apiKey",
    pathParams: { stepId: "an approval step of the flow's definition" },
    body: ApproveStepBody,
    responses: { 200: { description: "decided: the step's output", schema: responses.ApprovalDecidedResponse } },
    errors: [400, 403, 404, 409],
    // Deciding is writing to the thread: 404 for a flow the caller has no part in, 403 without write.
    handler: async ({ ctx, res, userId, params, body }) => {
      const { deps } = ctx.app;
      const flow = await requireFlowPermission(deps.db, params.flowId, userId, "write");
      const { decision, data, comment } = body();
      const decided = await decideApproval(deps, {
        flowId: flow.id,
        stepId: params.stepId,
        decision,
        ...(data !== undefined ? { data } : {}),
        ...(comment !== undefined ? { comment } : {}),
        decidedBy: userId,
      });
      res.json({ flowId: flow.id, stepId: params.stepId, ...decided });
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/approvals",
    operationId: "listApprovals",
    tag: "flows",
    summary: "The approval steps waiting for a decision the caller may take (threads they own or may write to)",
    auth: "apiKey",
    query: ListApprovalsQuery,
    responses: { 200: { description: "oldest first", schema: responses.ApprovalListResponse } },
    errors: [400],
    handler: async ({ ctx, res, userId, query }) => {
      const items = await listWaitingApprovals(ctx.app.deps.db, userId, query().limit);
      res.json({
        items: items.map((a) => ({
          ...a,
          createdAt: a.createdAt.toISOString(),
          expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null,
        })),
      });
    },
  }),
];
