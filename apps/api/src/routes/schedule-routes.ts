import { apiContract, ScheduleResponse } from "@ensemble/core";
import { assertFlowSchedule, removeFlowSchedule } from "@ensemble/engine";
import {
  deleteSchedule,
  insertSchedule,
  listFlowSchedules,
  recentFirings,
  type FlowScheduleRow,
  type ScheduleFiringRow,
} from "@ensemble/db";
import { ApiError } from "../http/api-error.js";
import { CronPattern } from "../http/cron-pattern.js";
import { permissionsToExecute, requireFlowPermission, requireThreadPermission } from "../http/thread-access.js";
import type { Shape } from "../http/serialize.js";
import { parseRequest } from "../http/validate.js";
import { defineRoute } from "./api-route.js";

/** Schedules a flow may have at once. */
const MAX_SCHEDULES_PER_FLOW = 20;
/** Firings shown with each schedule, newest first. */
const FIRINGS_SHOWN = 50;

/** A flow's cron schedules: each firing executes the flow as the user who created the schedule. */
export const scheduleRoutes = [
  defineRoute({
    ...apiContract.createSchedule,
    tag: "schedules",
    summary: "Run the flow on a cron schedule, as the caller",
    description:
      "Each firing starts one run (at most one per firing time), or is recorded as skipped when the caller's spend cap is reached or the flow is still running. Needs what an execute needs.",
    auth: "apiKey",
    errors: [400, 403, 404, 409],
    handler: async ({ ctx, res, userId, params, body }) => {
      const { deps } = ctx.app;
      const db = deps.db;
      const flow = await requireFlowPermission(db, params.flowId, userId, "write");
      // A firing executes the flow: the creator needs what an execute needs.
      const { needed, reason } = permissionsToExecute(
        deps.flows.forRun({ id: flow.id, definition: flow.definition, onlyStepId: null }),
        false,
      );
      await requireThreadPermission(db, flow.threadId, userId, needed, "flow", reason);
      const parsed = body();
      parseRequest(CronPattern, parsed.cron, ["cron"]);
      if ((await listFlowSchedules(db, flow.id)).length >= MAX_SCHEDULES_PER_FLOW)
        throw new ApiError("conflict", `a flow has at most ${MAX_SCHEDULES_PER_FLOW} schedules; delete one first`);
      const schedule = await insertSchedule(db, {
        flowId: flow.id,
        userId,
        cron: parsed.cron,
        timezone: parsed.timezone,
        input: parsed.input,
        metadata: parsed.metadata ?? {},
        ...(parsed.priority ? { priority: parsed.priority } : {}),
      });
      try {
        await assertFlowSchedule(deps, schedule);
      } catch (err) {
        // Stored is scheduled: the scheduler re-asserts every stored schedule within seconds.
        deps.logger.warn({ err, scheduleId: schedule.id }, "schedule stored, not yet in Redis; the scheduler adds it");
      }
      res.status(201).json(serializeSchedule(schedule, []));
    },
  }),
  defineRoute({
    ...apiContract.listSchedules,
    tag: "schedules",
    summary: "The flow's schedules, each with its latest firings",
    auth: "apiKey",
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const db = ctx.app.deps.db;
      const flow = await requireFlowPermission(db, params.flowId, userId, "read");
      const schedules = await listFlowSchedules(db, flow.id);
      const firings = await recentFirings(
        db,
        schedules.map((s) => s.id),
        FIRINGS_SHOWN,
      );
      res.json({ items: schedules.map((s) => serializeSchedule(s, firings.get(s.id) ?? [])) });
    },
  }),
  defineRoute({
    ...apiContract.deleteSchedule,
    tag: "schedules",
    summary: "Delete a schedule: it fires no more",
    auth: "apiKey",
    pathParams: { scheduleId: "the schedule" },
    errors: [403, 404],
    handler: async ({ ctx, res, userId, params }) => {
      const { deps } = ctx.app;
      const flow = await requireFlowPermission(deps.db, params.flowId, userId, "write");
      const { scheduleId } = params;
      if (!(await deleteSchedule(deps.db, flow.id, scheduleId))) throw new ApiError("not_found", "schedule not found");
      try {
        await removeFlowSchedule(deps, scheduleId);
      } catch (err) {
        // Its next firing finds no schedule and removes the job scheduler itself.
        deps.logger.warn({ err, scheduleId }, "schedule deleted, its job scheduler not yet removed");
      }
      res.status(204).end();
    },
  }),
];

function serializeSchedule(
  schedule: FlowScheduleRow,
  firings: readonly ScheduleFiringRow[],
): Shape<typeof ScheduleResponse> {
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
