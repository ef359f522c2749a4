import { apiContract, ValidationError, type FlowExecutionResult } from "@ensemble/core";
import {
  createFlow,
  executeFlow,
  requestCancel,
  summarizeFlowStatus,
  waitForRun,
  type ExecuteFlowResult,
} from "@ensemble/engine";
import { deleteFlow, listFlows, listRunSteps, listRunStepStatuses, type FlowRow, type Permission } from "@ensemble/db";
import { ApiError } from "../http/api-error.js";
import { ExecuteFlowBody, WaitQuery } from "@ensemble/core";
import { flowGraph } from "../http/flow-graph.js";
import { serializeFlow } from "../http/serialize.js";
import { readStepPage } from "../http/step-page.js";
import { requireFlowPermission, requireFlowToExecute, requireThreadPermission } from "../http/thread-access.js";
import { defineRoute, type RouteCall, type RouteContext } from "./api-route.js";

/** How long `?wait=true` holds the request when the execute call sets no flow timeout. */
const DEFAULT_WAIT_MS = 10 * 60 * 1000;

/** Loads a flow the caller may act on; 404 for what they have no part in. */
const loadFlow = (ctx: RouteContext, flowId: string, userId: string, needed: Permission): Promise<FlowRow> =>
  requireFlowPermission(ctx.app.deps.db, flowId, userId, needed);

type ExecuteCall = RouteCall<"/v1/flows/{flowId}", typeof WaitQuery, typeof ExecuteFlowBody>;

/**
 * Starts a run (of the whole flow, or of `onlyStepId` alone) and, with `?wait=true`,
 * waits for its result: `result` is null when the run was not awaited or outlived the wait.
 */
async function execute(
  { ctx, req, params, userId, query, body }: ExecuteCall,
  onlyStepId?: string,
): Promise<{ started: ExecuteFlowResult; waited: boolean; result: FlowExecutionResult | null }> {
  const { deps, shutdown } = ctx.app;
  const waited = query().wait === "true";
  const flow = await requireFlowToExecute(deps, params.flowId, userId, waited);
  const { delivery, batchDeadline, ...parsed } = body();
  if (batchDeadline !== undefined && delivery !== "batch")
    throw new ValidationError([{ path: "batchDeadline", message: 'is set but delivery is not "batch"' }]);
  const afterEventId = waited ? await deps.bus.lastEventId(flow.id) : 0;
  const started = await executeFlow(deps, flow.id, {
    ...parsed,
    ...(delivery === "batch" ? { batchDelivery: batchDeadline === undefined ? {} : { batchDeadline } } : {}),
    ...(onlyStepId !== undefined ? { onlyStepId } : {}),
    executedBy: userId,
    ...(req.requestId ? { requestId: req.requestId } : {}),
  });
  if (!waited) return { started, waited, result: null };
  const timeoutMs = (parsed.timeout?.flowMs ?? DEFAULT_WAIT_MS) + 5_000;
  return {
    started,
    waited,
    result: await waitForRun(deps, flow.id, started.run, afterEventId, timeoutMs, shutdown),
  };
}

const stillRunning = (started: ExecuteFlowResult) => ({
  flowId: started.flowId,
  status: "running",
  run: started.run,
  message: "still running; poll /status or follow /events",
});

/** Flows: create, read, page, list, delete, execute (whole or one step), cancel, status. */
export const flowRoutes = [
  defineRoute({
    ...apiContract.createFlow,
    tag: "flows",
    summary: "Validate and store a flow (needs write on the thread)",
    description:
      "The definition is validated in full here — schema, step graph, templates, CEL conditions — before anything is queued.",
    auth: "apiKey",
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, body }) => {
      const { deps } = ctx.app;
      const { threadId, definition } = body();
      await requireThreadPermission(deps.db, threadId, userId, "write");
      const flow = await createFlow(deps, { threadId, userId, definition });
      res.status(201).json(serializeFlow(flow, []));
    },
  }),
  defineRoute({
    ...apiContract.getFlow,
    tag: "flows",
    summary: "The flow with its latest run's stepResults",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "read");
      res.json(serializeFlow(flow, await listRunSteps(ctx.app.deps.db, flow.id, flow.run)));
    },
  }),
  defineRoute({
    ...apiContract.deleteFlow,
    tag: "flows",
    summary: "Delete a flow (needs delete; not while queued or running)",
    auth: "apiKey",
    errors: [403, 404, 409],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "delete");
      if (["queued", "running", "waiting"].includes(flow.status))
        throw new ApiError("conflict", `flow is ${flow.status}; cancel it before deleting it`);
      await deleteFlow(ctx.app.deps.db, flow.id);
      res.status(204).end();
    },
  }),
  defineRoute({
    ...apiContract.getFlowGraph,
    tag: "flows",
    summary: "The flow's steps and what each waits for, as the engine orders them",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "read");
      res.json(flowGraph(flow.id, ctx.app.deps.flows.forRun({ id: flow.id, definition: flow.definition })));
    },
  }),
  defineRoute({
    ...apiContract.listFlows,
    tag: "flows",
    summary: "The thread's flows",
    auth: "apiKey",
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, params, query }) => {
      const db = ctx.app.deps.db;
      await requireThreadPermission(db, params.threadId, userId, "read");
      const page = await listFlows(db, params.threadId, query());
      res.json({ items: page.items.map((f) => serializeFlow(f)), total: page.total });
    },
  }),
  defineRoute({
    ...apiContract.executeFlow,
    tag: "flows",
    summary: "Run the flow",
    auth: "apiKey",
    idempotency: "flow.execute",
    errors: [400, 402, 403, 404, 409],
    handler: async (call) => {
      const { started, waited, result } = await execute(call);
      const { res } = call;
      if (result) res.json(result);
      else if (waited) res.status(202).json(stillRunning(started));
      else res.status(202).json({ flowId: started.flowId, status: started.status, run: started.run });
    },
  }),
  defineRoute({
    ...apiContract.executeStep,
    tag: "flows",
    summary: "Run one step of the flow alone (a run of just that step, its input the request's)",
    auth: "apiKey",
    pathParams: { stepId: "a step id of the flow's definition" },
    idempotency: "step.execute",

    errors: [400, 402, 403, 404, 409],
    handler: async (call) => {
      const { stepId } = call.params;
      const { started, waited, result } = await execute(call, stepId);
      const { res } = call;
      const step = result?.steps.find((s) => s.stepId === stepId);
      if (step) res.json(step);
      else if (waited) res.status(202).json({ ...stillRunning(started), stepId });
      else res.status(202).json({ flowId: started.flowId, stepId, status: started.status, run: started.run });
    },
  }),
  defineRoute({
    ...apiContract.cancelFlow,
    tag: "flows",
    summary: "Cancel the running flow; provider calls are aborted within a second",
    auth: "apiKey",
    errors: [403, 404, 409],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "write");
      if (!["queued", "running", "waiting", "pending"].includes(flow.status) || flow.run === 0) {
        throw new ApiError(
          "conflict",
          `flow is ${flow.status}; only a queued, running or waiting flow can be cancelled`,
        );
      }
      await requestCancel(ctx.app.deps, flow.id, flow.run);
      res.status(202).json({ flowId: flow.id, status: "cancelling" });
    },
  }),
  defineRoute({
    ...apiContract.listFlowSteps,
    tag: "flows",
    summary: "The latest run's step results, a page at a time",
    description:
      "A page ends at `limit` results, or after the result that brings its outputs to 1 000 000 characters (at least one result per page).",
    auth: "apiKey",
    errors: [400, 403, 404],
    // Outputs can be large: GET /v1/flows/{flowId} carries them all, this a page at a time.
    handler: async ({ ctx, res, userId, params, query }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "read");
      const { cursor, limit } = query();
      res.json(await readStepPage(ctx.app.deps.db, flow, cursor, limit));
    },
  }),
  defineRoute({
    ...apiContract.getFlowStatus,
    tag: "flows",
    summary: "Progress of the latest run",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await loadFlow(ctx, params.flowId, userId, "read");
      // Statuses only: a run's outputs can be megabytes, and a status poll needs none of them.
      const rows = await listRunStepStatuses(ctx.app.deps.db, flow.id, flow.run);
      const definedSteps = Array.isArray((flow.definition as { steps?: unknown[] }).steps)
        ? (flow.definition as { steps: unknown[] }).steps.length
        : 0;
      const stepCount = flow.onlyStepId ? 1 : definedSteps;
      res.json(summarizeFlowStatus(flow, rows, stepCount));
    },
  }),
];
