import { apiContract } from "@ensemble/core";
import { decideApproval } from "@ensemble/engine";
import { listWaitingApprovals } from "@ensemble/db";
import { requireFlowPermission } from "../http/thread-access.js";
import { defineRoute } from "./api-route.js";

/** Approval steps: deciding one, and the list of those waiting for the caller. */
export const approvalRoutes = [
  defineRoute({
    ...apiContract.approveStep,
    tag: "flows",
    summary: "Decide a waiting approval step (needs write on the thread); the run goes on at once",
    description:
      "Of racing decisions exactly one wins; the others get 409. `data` must match the step's responseSchema (400 names the path under `data`). An unhandled reject ends the run `failed` with code `rejected`.",
    auth: "apiKey",
    pathParams: { stepId: "an approval step of the flow's definition" },
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
    ...apiContract.listApprovals,
    tag: "flows",
    summary: "The approval steps waiting for a decision the caller may take (threads they own or may write to)",
    auth: "apiKey",
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
