import { apiContract } from "@ensemble/core";
import { executeFlow } from "@ensemble/engine";
import { findFlowRun, listFlowRuns, listRunSteps, type FlowRow, type FlowRunRow } from "@ensemble/db";
import { ApiError } from "../http/api-error.js";
import { RunParam } from "@ensemble/core";
import { compareRuns } from "../http/run-comparison.js";
import { serializeRunDetail, serializeRunSummary } from "../http/serialize.js";
import { requireFlowPermission, requireFlowToExecute } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import { defineRoute, type RouteContext } from "./api-route.js";

const readFlow = (ctx: RouteContext, flowId: string, userId: string): Promise<FlowRow> =>
  requireFlowPermission(ctx.app.deps.db, flowId, userId, "read");

async function loadRun(ctx: RouteContext, flow: FlowRow, run: number): Promise<FlowRunRow> {
  const found = await findFlowRun(ctx.app.deps.db, flow, run);
  if (!found) throw new ApiError("not_found", `run ${run} not found`);
  return found;
}

/** A flow's runs: the list, one run, a rerun from a step, two runs side by side. */
export const runRoutes = [
  defineRoute({
    ...apiContract.listRuns,
    tag: "runs",
    summary: "Every run of the flow, oldest first, with its status, times, cost, tokens and what it reran",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await readFlow(ctx, params.flowId, userId);
      res.json({ flowId: flow.id, items: (await listFlowRuns(ctx.app.deps.db, flow)).map(serializeRunSummary) });
    },
  }),
  defineRoute({
    ...apiContract.getRun,
    tag: "runs",
    summary: "One run: its step results and the definition it executed",
    auth: "apiKey",
    pathParams: { run: "a run number (1, 2, …)" },
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const flow = await readFlow(ctx, params.flowId, userId);
      const run = await loadRun(ctx, flow, parseRequest(RunParam, params.run, ["run"]));
      res.json(serializeRunDetail(run, await listRunSteps(ctx.app.deps.db, flow.id, run.run)));
    },
  }),
  defineRoute({
    ...apiContract.rerun,
    tag: "runs",
    summary: "A new run from one step of an earlier run, with overrides; the steps before it are reused",
    description:
      "Steps that neither are `fromStep` nor depend on it are copied from the source run (`reusedFrom`): no provider call, no ledger row, no cost. `fromStep` and everything after it run again with the overrides; a step inside the loop restarts the loop. The source run is not changed.",
    auth: "apiKey",
    pathParams: { run: "the run to rerun" },
    idempotency: "flow.rerun",
    errors: [400, 403, 404, 409],
    handler: async ({ ctx, req, res, userId, params, body }) => {
      const { deps } = ctx.app;
      const of = parseRequest(RunParam, params.run, ["run"]);
      const flow = await requireFlowToExecute(deps, params.flowId, userId, false);
      const { input, fromStep, overrides, priority } = body();
      const started = await executeFlow(deps, flow.id, {
        executedBy: userId,
        ...(input !== undefined ? { input } : {}),
        ...(priority !== undefined ? { priority } : {}),
        rerun: { of, fromStep, ...(overrides ? { overrides } : {}) },
        ...(req.requestId ? { requestId: req.requestId } : {}),
      });
      res
        .status(202)
        .json({ flowId: started.flowId, run: started.run, status: started.status, rerunOf: started.rerunOf });
    },
  }),
  defineRoute({
    ...apiContract.compareRuns,
    tag: "runs",
    summary: "Two runs side by side: each step's result in both, a word diff of the outputs, the totals",
    auth: "apiKey",
    errors: [400, 403, 404],
    handler: async ({ ctx, res, userId, params, query }) => {
      const db = ctx.app.deps.db;
      const flow = await readFlow(ctx, params.flowId, userId);
      const [a, b] = query().runs.split(",").map(Number) as [number, number];
      const [runA, runB] = await Promise.all([loadRun(ctx, flow, a), loadRun(ctx, flow, b)]);
      const [stepsA, stepsB] = await Promise.all([listRunSteps(db, flow.id, a), listRunSteps(db, flow.id, b)]);
      res.json(compareRuns(flow.id, { run: runA, steps: stepsA }, { run: runB, steps: stepsB }));
    },
  }),
];
