import { executeFlow } from "@ensemble/engine";
import { findFlowRun, listFlowRuns, listRunSteps, type FlowRow, type FlowRunRow } from "@ensemble/db";
import { Router, type Request } from "express";
import { ApiError } from "../http/api-error.js";
import { CompareQuery, RerunBody, RunParam } from "../http/request-schemas.js";
import { compareRuns } from "../http/run-comparison.js";
import { serializeRunDetail, serializeRunSummary } from "../http/serialize.js";
import { requireFlowPermission, requireFlowToExecute } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

/** A flow's runs: the list, one run, a rerun from a step, two runs side by side. */
export function runRoutes(ctx: AppContext): Router {
  const router = Router();
  const { deps } = ctx;
  const db = deps.db;

  const readFlow = (req: Request): Promise<FlowRow> =>
    requireFlowPermission(db, req.params.flowId as string, req.userId as string, "read");

  const loadRun = async (flow: FlowRow, run: number): Promise<FlowRunRow> => {
    const found = await findFlowRun(db, flow, run);
    if (!found) throw new ApiError("not_found", `run ${run} not found`);
    return found;
  };

  router.get("/v1/flows/:flowId/runs", async (req, res) => {
    const flow = await readFlow(req);
    res.json({ flowId: flow.id, items: (await listFlowRuns(db, flow)).map(serializeRunSummary) });
  });

  router.get("/v1/flows/:flowId/runs/:run", async (req, res) => {
    const flow = await readFlow(req);
    const run = await loadRun(flow, parseRequest(RunParam, req.params.run, ["run"]));
    res.json(serializeRunDetail(run, await listRunSteps(db, flow.id, run.run)));
  });

  router.post("/v1/flows/:flowId/runs/:run/rerun", async (req, res) => {
    const of = parseRequest(RunParam, req.params.run, ["run"]);
    const flow = await requireFlowToExecute(deps, req.params.flowId, req.userId as string, false);
    const body = parseRequest(RerunBody, req.body);
    const started = await executeFlow(deps, flow.id, {
      executedBy: req.userId as string,
      ...(body.input !== undefined ? { input: body.input } : {}),
      ...(body.priority !== undefined ? { priority: body.priority } : {}),
      rerun: { of, fromStep: body.fromStep, ...(body.overrides ? { overrides: body.overrides } : {}) },
      ...(req.requestId ? { requestId: req.requestId } : {}),
    });
    res
      .status(202)
      .json({ flowId: started.flowId, run: started.run, status: started.status, rerunOf: started.rerunOf });
  });

  router.get("/v1/flows/:flowId/compare", async (req, res) => {
    const flow = await readFlow(req);
    const [a, b] = parseRequest(CompareQuery, req.query).runs.split(",").map(Number) as [number, number];
    const [runA, runB] = await Promise.all([loadRun(flow, a), loadRun(flow, b)]);
    const [stepsA, stepsB] = await Promise.all([listRunSteps(db, flow.id, a), listRunSteps(db, flow.id, b)]);
    res.json(compareRuns(flow.id, { run: runA, steps: stepsA }, { run: runB, steps: stepsB }));
  });

  return router;
}
