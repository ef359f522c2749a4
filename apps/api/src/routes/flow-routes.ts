import type { FlowExecutionResult } from "@ensemble/core";
import {
  createFlow,
  executeFlow,
  requestCancel,
  summarizeFlowStatus,
  waitForRun,
  type ExecuteFlowResult,
} from "@ensemble/engine";
import { deleteFlow, listFlows, listRunSteps, listRunStepStatuses, type FlowRow } from "@ensemble/db";
import { Router, type Request } from "express";
import { ApiError } from "../http/api-error.js";
import { CreateFlowBody, ExecuteFlowBody, ListFlowsQuery, StepPageQuery, WaitQuery } from "../http/request-schemas.js";
import { flowGraph } from "../http/flow-graph.js";
import { serializeFlow } from "../http/serialize.js";
import { readStepPage } from "../http/step-page.js";
import { requireFlowPermission, requireFlowToExecute, requireThreadPermission } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";
import type { Permission } from "@ensemble/db";

/** How long `?wait=true` holds the request when the execute call sets no flow timeout. */
const DEFAULT_WAIT_MS = 10 * 60 * 1000;

export function flowRoutes(ctx: AppContext): Router {
  const router = Router();
  const { deps } = ctx;
  const db = deps.db;

  /** Loads a flow the caller may act on; 404 for what they have no part in. */
  const loadFlow = (req: Request, needed: Permission): Promise<FlowRow> =>
    requireFlowPermission(db, req.params.flowId as string, req.userId as string, needed);

  router.post("/v1/flows", async (req, res) => {
    const body = parseRequest(CreateFlowBody, req.body);
    await requireThreadPermission(db, body.threadId, req.userId as string, "write");
    const flow = await createFlow(deps, {
      threadId: body.threadId,
      userId: req.userId as string,
      definition: body.definition,
    });
    res.status(201).json(serializeFlow(flow, []));
  });

  router.get("/v1/flows/:flowId", async (req, res) => {
    const flow = await loadFlow(req, "read");
    res.json(serializeFlow(flow, await listRunSteps(db, flow.id, flow.run)));
  });

  router.get("/v1/flows/:flowId/graph", async (req, res) => {
    const flow = await loadFlow(req, "read");
    res.json(flowGraph(flow.id, deps.flows.forRun({ id: flow.id, definition: flow.definition })));
  });

  // The latest run's step results a page at a time: outputs can be large, GET /v1/flows/:flowId carries them all.
  router.get("/v1/flows/:flowId/steps", async (req, res) => {
    const flow = await loadFlow(req, "read");
    const query = parseRequest(StepPageQuery, req.query);
    res.json(await readStepPage(db, flow, query.cursor, query.limit));
  });

  router.get("/v1/threads/:threadId/flows", async (req, res) => {
    await requireThreadPermission(db, req.params.threadId, req.userId as string, "read");
    const query = parseRequest(ListFlowsQuery, req.query);
    const page = await listFlows(db, req.params.threadId, query);
    res.json({ items: page.items.map((f) => serializeFlow(f)), total: page.total });
  });

  router.delete("/v1/flows/:flowId", async (req, res) => {
    const flow = await loadFlow(req, "delete");
    if (["queued", "running", "waiting"].includes(flow.status))
      throw new ApiError("conflict", `flow is ${flow.status}; cancel it before deleting it`);
    await deleteFlow(db, flow.id);
    res.status(204).end();
  });

  /**
   * Starts a run (of the whole flow, or of `onlyStepId` alone) and, with `?wait=true`,
   * waits for its result: `result` is null when the run was not awaited or outlived the wait.
   */
  const execute = async (
    req: Request,
    onlyStepId?: string,
  ): Promise<{ started: ExecuteFlowResult; waited: boolean; result: FlowExecutionResult | null }> => {
    const waited = parseRequest(WaitQuery, req.query).wait === "true";
    const flow = await requireFlowToExecute(deps, req.params.flowId as string, req.userId as string, waited);
    const body = parseRequest(ExecuteFlowBody, req.body);
    const afterEventId = waited ? await deps.bus.lastEventId(flow.id) : 0;
    const started = await executeFlow(deps, flow.id, {
      ...body,
      ...(onlyStepId !== undefined ? { onlyStepId } : {}),
      executedBy: req.userId as string,
      ...(req.requestId ? { requestId: req.requestId } : {}),
    });
    if (!waited) return { started, waited, result: null };
    const timeoutMs = (body.timeout?.flowMs ?? DEFAULT_WAIT_MS) + 5_000;
    return {
      started,
      waited,
      result: await waitForRun(deps, flow.id, started.run, afterEventId, timeoutMs, ctx.shutdown),
    };
  };
  const stillRunning = (started: ExecuteFlowResult) => ({
    flowId: started.flowId,
    status: "running",
    run: started.run,
    message: "still running; poll /status or follow /events",
  });

  router.post("/v1/flows/:flowId/execute", async (req, res) => {
    const { started, waited, result } = await execute(req);
    if (result) res.json(result);
    else if (waited) res.status(202).json(stillRunning(started));
    else res.status(202).json({ flowId: started.flowId, status: started.status, run: started.run });
  });

  // One step alone: a run of the flow that executes just this step, its input the request's.
  router.post("/v1/flows/:flowId/steps/:stepId/execute", async (req, res) => {
    const stepId = req.params.stepId;
    const { started, waited, result } = await execute(req, stepId);
    const step = result?.steps.find((s) => s.stepId === stepId);
    if (step) res.json(step);
    else if (waited) res.status(202).json({ ...stillRunning(started), stepId });
    else res.status(202).json({ flowId: started.flowId, stepId, status: started.status, run: started.run });
  });

  router.post("/v1/flows/:flowId/cancel", async (req, res) => {
    const flow = await loadFlow(req, "write");
    if (!["queued", "running", "waiting", "pending"].includes(flow.status) || flow.run === 0) {
      throw new ApiError("conflict", `flow is ${flow.status}; only a queued, running or waiting flow can be cancelled`);
    }
    await requestCancel(deps, flow.id, flow.run);
    res.status(202).json({ flowId: flow.id, status: "cancelling" });
  });

  router.get("/v1/flows/:flowId/status", async (req, res) => {
    const flow = await loadFlow(req, "read");
    // Statuses only: a run's outputs can be megabytes, and a status poll needs none of them.
    const rows = await listRunStepStatuses(db, flow.id, flow.run);
    const definedSteps = Array.isArray((flow.definition as { steps?: unknown[] }).steps)
      ? (flow.definition as { steps: unknown[] }).steps.length
      : 0;
    const stepCount = flow.onlyStepId ? 1 : definedSteps;
    res.json(summarizeFlowStatus(flow, rows, stepCount));
  });

  return router;
}
