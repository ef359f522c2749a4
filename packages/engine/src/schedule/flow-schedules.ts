import {
  claimFiring,
  findFiring,
  findFlow,
  findSchedule,
  listAllSchedules,
  threadPermissions,
  type FlowScheduleRow,
  type Permission,
  type ScheduleFiringRow,
} from "@ensemble/db";
import { QUEUE_NAMES } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";
import { FlowConflictError, ForbiddenError, NotFoundError, PolicyViolationError } from "../errors/engine-errors.js";
import { executeFlow, FiringAlreadyHandledError } from "../run/execute-flow.js";
import { emptyEffects, performEffects } from "../run/run-effects.js";
import { SpendCapReachedError } from "../spend/spend-caps.js";

/**
 * Flow schedules: Postgres holds them (`flow_schedules`), BullMQ job schedulers fire them
 * (one per schedule, on the `flows` queue). The scheduler re-asserts every schedule from
 * Postgres periodically, so a restart or a Redis that lost its data loses no schedule
 * (firings due while Redis was empty are not made up).
 */

/** The BullMQ job scheduler id of a flow schedule. */
export function scheduleJobSchedulerId(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}

/** Creates or replaces the job scheduler that fires a schedule. */
export async function assertFlowSchedule(deps: RunDeps, schedule: FlowScheduleRow): Promise<void> {
  await deps.producer.upsertSchedule(
    "flow.schedule-fire",
    { scheduleId: schedule.id, label: `schedule ${schedule.id} › flow ${schedule.flowId}` },
    { schedulerId: scheduleJobSchedulerId(schedule.id), every: { cron: schedule.cron, timezone: schedule.timezone } },
  );
}

export async function removeFlowSchedule(deps: RunDeps, scheduleId: string): Promise<void> {
  await deps.producer.removeSchedule(QUEUE_NAMES.flows, scheduleJobSchedulerId(scheduleId));
}

/** Re-asserts every schedule in Redis (upserting an unchanged one changes nothing). */
export async function assertFlowSchedules(deps: RunDeps): Promise<void> {
  for (const schedule of await listAllSchedules(deps.db)) await assertFlowSchedule(deps, schedule);
}

/**
 * One firing: starts a run as the schedule's creator, at most once per (schedule, firing
 * time) — the firing is claimed in the run's own transaction. A firing that cannot start
 * (a spend cap reached, the flow still running, the flow no longer executable) is recorded
 * as skipped with the reason; anything else throws and the job is retried.
 */
export async function fireSchedule(deps: RunDeps, scheduleId: string, fireAt: Date): Promise<void> {
  const schedule = await findSchedule(deps.db, scheduleId);
  if (!schedule) {
    // Deleted while its job scheduler outlived it (Redis unreachable at the delete).
    await removeFlowSchedule(deps, scheduleId);
    return;
  }
  // The job ran before (its process died): that try's claim stands.
  const handled = await findFiring(deps.db, scheduleId, fireAt);
  if (handled) return resendStartOfFiring(deps, schedule, handled);
  const lostAccess = await creatorCannotExecute(deps, schedule);
  if (lostAccess) {
    await claimFiring(deps.db, { scheduleId, fireAt, outcome: "skipped", run: null, reason: lostAccess });
    return;
  }
  try {
    const started = await executeFlow(deps, schedule.flowId, {
      executedBy: schedule.userId,
      input: schedule.input,
      metadata: schedule.metadata,
      priority: schedule.priority,
      firing: { scheduleId, fireAt },
    });
    deps.logger.info({ scheduleId, flowId: schedule.flowId, run: started.run, fireAt }, "schedule fired");
  } catch (error) {
    if (error instanceof FiringAlreadyHandledError) return;
    if (!isSkipReason(error)) throw error;
    await claimFiring(deps.db, { scheduleId, fireAt, outcome: "skipped", run: null, reason: error.message });
    deps.logger.info({ scheduleId, flowId: schedule.flowId, fireAt, reason: error.message }, "schedule firing skipped");
  }
}

/**
 * A firing's job ran again: an earlier try claimed it, and may have died after committing
 * its run but before enqueuing the run's start. While that run is still queued its
 * `flow.start` goes again (same job id: one still in Redis is not duplicated; starting is
 * idempotent), so a scheduler killed mid-firing delays the run by the job's stall time, not
 * the sweep's `staleStepMs`, and the schedule's next firings are not skipped as "still queued".
 */
async function resendStartOfFiring(deps: RunDeps, schedule: FlowScheduleRow, firing: ScheduleFiringRow): Promise<void> {
  if (firing.outcome !== "started" || firing.run === null) return;
  const flow = await findFlow(deps.db, schedule.flowId);
  if (!flow || flow.run !== firing.run || flow.status !== "queued") return;
  deps.logger.info(
    { scheduleId: schedule.id, flowId: flow.id, run: flow.run, fireAt: firing.fireAt },
    "firing ran again: its queued run's start is sent again",
  );
  await performEffects(deps, {
    ...emptyEffects(),
    jobs: [{ name: "flow.start", payload: { flowId: flow.id, run: flow.run, label: flow.name } }],
  });
}

/**
 * Why the schedule's creator may no longer execute its flow (null: they may): the firing
 * runs as them, so it needs what their execute would (write; read too when the flow shares
 * the thread's history), checked again at each firing since a thread owner can revoke it.
 */
async function creatorCannotExecute(deps: RunDeps, schedule: FlowScheduleRow): Promise<string | null> {
  const flow = await findFlow(deps.db, schedule.flowId);
  if (!flow) return "the flow no longer exists";
  const granted = await threadPermissions(deps.db, flow.threadId, schedule.userId);
  const sharesHistory = deps.flows.forRun({ id: flow.id, definition: flow.definition, onlyStepId: null }).policy
    .shareConversationHistory;
  const needed: Permission[] = sharesHistory ? ["write", "read"] : ["write"];
  const missing = needed.filter((p) => !granted.includes(p));
  return missing.length > 0
    ? `the schedule's creator no longer has ${missing.join(" and ")} permission on the flow's thread`
    : null;
}

function isSkipReason(error: unknown): error is Error {
  return (
    error instanceof SpendCapReachedError ||
    error instanceof FlowConflictError ||
    error instanceof NotFoundError ||
    error instanceof ForbiddenError ||
    error instanceof PolicyViolationError
  );
}
