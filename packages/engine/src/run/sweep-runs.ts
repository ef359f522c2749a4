import { listExpiredApprovals, listFlowsByStatus, listStaleSteps } from "@ensemble/db";
import { stepQueueName } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";
import { sweepBatches } from "../batch/sweep-batches.js";
import { relayOutbox } from "./relay-events.js";
import { emptyEffects, performEffects } from "./run-effects.js";

/**
 * `flow.sweep` (every few seconds, from the scheduler): the safety net for crash
 * windows no redelivery covers. Steps whose lease ran out or that waited too long
 * get their job again (same job ids: a job still queued is not duplicated); flows
 * queued but never started get `flow.start` again; flows past their deadline are
 * timed out; approval steps past their timeout get their timeout job again; events a
 * commit left unpublished (a crash, a Redis wipe) are published from the outbox. Each
 * user's oldest low or normal step job that waited `priorityAgingMs` moves one class up,
 * so none starves.
 */
export async function sweepRuns(
  deps: RunDeps,
): Promise<{ steps: number; flows: number; relayed: number; promoted: number }> {
  const effects = emptyEffects();
  const stale = await listStaleSteps(deps.db, deps.settings.staleStepMs);
  const seen = new Set<string>();
  for (const row of stale) {
    const key = `${row.flowId}#${row.run}`;
    if (seen.has(key)) continue;
    seen.add(key);
    effects.jobs.push({ name: "flow.advance", payload: { flowId: row.flowId, run: row.run } });
  }
  // An approval step past its timeout whose delayed job was lost: the same job again
  // (a new id per sweep period, in case a kept failed job holds the first; deciding is once).
  for (const row of await listExpiredApprovals(deps.db)) {
    effects.jobs.push({
      name: "flow.approval-timeout",
      payload: { flowId: row.flowId, run: row.run, stepId: row.stepId, iteration: row.iteration },
      dedupe: `sweep-${Math.floor(Date.now() / deps.settings.staleStepMs)}`,
    });
  }
  const open = await listFlowsByStatus(deps.db, ["queued", "running", "waiting"]);
  const now = Date.now();
  let flows = 0;
  for (const flow of open) {
    if (flow.deadlineAt && flow.deadlineAt.getTime() < now) {
      effects.jobs.push({ name: "flow.cancel", payload: { flowId: flow.id, run: flow.run, reason: "timed_out" } });
      flows += 1;
    } else if (flow.status === "queued" && flow.queuedAt && now - flow.queuedAt.getTime() > deps.settings.staleStepMs) {
      effects.jobs.push({
        name: "flow.start",
        payload: { flowId: flow.id, run: flow.run },
        dedupe: `sweep-${Math.floor(now / deps.settings.staleStepMs)}`,
      });
      flows += 1;
    }
  }
  if (effects.jobs.length > 0) {
    deps.logger.info({ staleSteps: stale.length, flows }, "sweep: re-enqueuing work that stopped moving");
    await performEffects(deps, effects);
  }
  const batches = await sweepBatches(deps);
  if (batches.fellBack + batches.created + batches.submits + batches.polls > 0)
    deps.logger.info(batches, "sweep: batch delivery");
  const relayed = await relayOutbox(deps);
  const queues = (await deps.providerCatalog.keys()).map(stepQueueName);
  const promoted = await deps.producer.fairShare.age(queues, deps.settings.priorityAgingMs);
  if (promoted > 0) deps.logger.info({ promoted }, "sweep: promoted step jobs that waited long in a lower priority");
  return { steps: stale.length, flows, relayed, promoted };
}
