import { assertFlowSchedule, removeFlowSchedule } from "@ensemble/engine";
import {
  deleteSchedule,
  insertSchedule,
  listFlowSchedules,
  recentFirings,
  type FlowScheduleRow,
  type ScheduleFiringRow,
} from "@ensemble/db";
import { Router, type Request } from "express";
import { ApiError } from "../http/api-error.js";
import { CreateScheduleBody } from "../http/request-schemas.js";
import { permissionsToExecute, requireFlowPermission, requireThreadPermission } from "../http/thread-access.js";
import { parseRequest } from "../http/validate.js";
import type { AppContext } from "../app-context.js";

/** Schedules a flow may have at once. */
const MAX_SCHEDULES_PER_FLOW = 20;
/** Firings shown with each schedule, newest first. */
const FIRINGS_SHOWN = 50;

/** A flow's cron schedules: each firing executes the flow as the user who created the schedule. */
export function scheduleRoutes(ctx: AppContext): Router {
  const router = Router();
  const { deps } = ctx;
  const db = deps.db;

  router.post("/v1/flows/:flowId/schedules", async (req, res) => {
    const userId = req.userId as string;
    const flow = await requireFlowPermission(db, req.params.flowId, userId, "write");
    // A firing executes the flow: the creator needs what an execute needs.
    const { needed, reason } = permissionsToExecute(
      deps.flows.forRun({ id: flow.id, definition: flow.definition, onlyStepId: null }),
      false,
    );
    await requireThreadPermission(db, flow.threadId, userId, needed, "flow", reason);
    const body = parseRequest(CreateScheduleBody, req.body);
    if ((await listFlowSchedules(db, flow.id)).length >= MAX_SCHEDULES_PER_FLOW)
      throw new ApiError("conflict", `a flow has at most ${MAX_SCHEDULES_PER_FLOW} schedules; delete one first`);
    const schedule = await insertSchedule(db, {
      flowId: flow.id,
      userId,
      cron: body.cron,
      timezone: body.timezone,
      input: body.input,
      metadata: body.metadata ?? {},
      ...(body.priority ? { priority: body.priority } : {}),
    });
    try {
      await assertFlowSchedule(deps, schedule);
    } catch (err) {
      // Stored is scheduled: the scheduler re-asserts every stored schedule within seconds.
      deps.logger.warn({ err, scheduleId: schedule.id }, "schedule stored, not yet in Redis; the scheduler adds it");
    }
    res.status(201).json(serializeSchedule(schedule, []));
  });

  router.get("/v1/flows/:flowId/schedules", async (req, res) => {
    const flow = await requireFlowPermission(db, req.params.flowId, req.userId as string, "read");
    const schedules = await listFlowSchedules(db, flow.id);
    const firings = await recentFirings(
      db,
      schedules.map((s) => s.id),
      FIRINGS_SHOWN,
    );
    res.json({ items: schedules.map((s) => serializeSchedule(s, firings.get(s.id) ?? [])) });
  });

  router.delete("/v1/flows/:flowId/schedules/:scheduleId", async (req: Request, res) => {
    const flow = await requireFlowPermission(db, req.params.flowId as string, req.userId as string, "write");
    const scheduleId = req.params.scheduleId as string;
    if (!(await deleteSchedule(db, flow.id, scheduleId))) throw new ApiError("not_found", "schedule not found");
    try {
      await removeFlowSchedule(deps, scheduleId);
    } catch (err) {
      // Its next firing finds no schedule and removes the job scheduler itself.
      deps.logger.warn({ err, scheduleId }, "schedule deleted, its job scheduler not yet removed");
    }
    res.status(204).end();
  });

  return router;
}

function serializeSchedule(schedule: FlowScheduleRow, firings: readonly ScheduleFiringRow[]): Record<string, unknown> {
  return {
    id: schedule.id,
    flowId: schedule.flowId,
    cron: schedule.cron,
    timezone: schedule.timezone,
    input: schedule.input,
    metadata: schedule.metadata,
    priority: schedule.priority,
    createdAt: schedule.createdAt.toISOString(),
    firings: firings.map((f) => ({
      fireAt: f.fireAt.toISOString(),
      outcome: f.outcome,
      run: f.run,
      reason: f.reason,
    })),
  };
}
