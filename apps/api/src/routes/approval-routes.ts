import { decideApproval } from "@ensemble/engine";
import { listWaitingApprovals } from "@ensemble/db";
import { Router } from "express";
import { ApproveStepBody, ListApprovalsQuery } from "../http/request-schemas.js";
import { requireFlowPermission } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

/** Approval steps: deciding one, and the list of those waiting for the caller. */
export function approvalRoutes(ctx: AppContext): Router {
  const router = Router();
  const { deps } = ctx;

  // Deciding is writing to the thread: 404 for a flow the caller has no part in, 403 without write.
  router.post("/v1/flows/:flowId/steps/:stepId/approve", async (req, res) => {
    const flow = await requireFlowPermission(deps.db, req.params.flowId, req.userId as string, "write");
    const body = parseRequest(ApproveStepBody, req.body);
    const decided = await decideApproval(deps, {
      flowId: flow.id,
      stepId: req.params.stepId,
      decision: body.decision,
      ...(body.data !== undefined ? { data: body.data } : {}),
      ...(body.comment !== undefined ? { comment: body.comment } : {}),
      decidedBy: req.userId as string,
    });
    res.json({ flowId: flow.id, stepId: req.params.stepId, ...decided });
  });

  router.get("/v1/approvals", async (req, res) => {
    const query = parseRequest(ListApprovalsQuery, req.query);
    const items = await listWaitingApprovals(deps.db, req.userId as string, query.limit);
    res.json({
      items: items.map((a) => ({
        ...a,
        createdAt: a.createdAt.toISOString(),
        expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null,
      })),
    });
  });

  return router;
}
