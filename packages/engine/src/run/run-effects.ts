import { listOutboxEvents } from "@ensemble/db";
import {
  EarlierEventsUnpublishedError,
  FlowEventsLostError,
  type BulkJob,
  type CancelReason,
  type JobName,
  type JobPayload,
} from "@ensemble/queue";
import { recordRunSpan, type RunSpan, type RunTrace } from "@ensemble/telemetry";
import type { RunDeps } from "../engine-deps.js";
import type { Delivery } from "./committed-deliveries.js";
import { relayedEvent, type EffectEvent } from "./event-outbox.js";
import { recordRunMetrics } from "./run-metrics.js";

/**
 * What a committed transaction must cause outside Postgres: jobs to enqueue, events
 * to publish, calls to abort. Collected inside the transaction and performed only
 * after it commits, so nothing is announced that did not happen. If the process dies
 * in between, the sweeper re-enqueues open steps (job ids make that idempotent).
 */
export interface RunEffects {
  jobs: EffectJob[];
  /** Durable: written to the outbox in the transaction (`transactWithEvents`, `stageEvents`). */
  events: EffectEvent[];
  /** Running calls of these flows are aborted cluster-wide (a failed flow's other calls are cancelled). */
  abortFlows: { flowId: string; reason: CancelReason }[];
  /** Flows whose run ended: their events are archived to Postgres a little later (`ARCHIVE_AFTER_MS`). */
  archiveFlows: string[];
  /** Runs that ended: their spans are exported (when tracing is on) and their durations counted once the end is committed. */
  endedRuns: EndedRun[];
}

/** A run whose end the transaction commits. */
export type EndedRun = RunSpan & { trace: RunTrace | null; flowType: string };

/** How long after a run ends its events are archived: late events (a call's last progress) land first. */
export const ARCHIVE_AFTER_MS = 2_000;

/** A catalog job with its timing; the union keeps each payload tied to its name. */
export type EffectJob = {
  [N in JobName]: { name: N; payload: JobPayload<N>; delayMs?: number; lifo?: boolean; dedupe?: string };
}[JobName];

export function emptyEffects(): RunEffects {
  return { jobs: [], events: [], abortFlows: [], archiveFlows: [], endedRuns: [] };
}

export async function performEffects(deps: RunDeps, effects: RunEffects): Promise<void> {
  // Events first, in order, then the archive entries that must follow them: kept and retried
  // through a Redis blip (CommittedDeliveries), so a committed step's event is not lost.
  const deliveries: Delivery[] = effects.events.map((e) => ({
    what: `${e.type} of ${e.flowId}`,
    send: () => publishEvent(deps, e),
  }));
  if (effects.archiveFlows.length > 0)
    deliveries.push({
      what: `archive of ${effects.archiveFlows.length} flows`,
      send: () => deps.archives.add(effects.archiveFlows, Date.now() + ARCHIVE_AFTER_MS),
    });
  const delivered = deps.deliveries.deliver(deliveries);
  const aborts = effects.abortFlows.map((a) => deps.cancelSignals.publish(a.flowId, a.reason));
  const jobs =
    effects.jobs.length > 0
      ? deps.producer.addBulk(
          effects.jobs.map(
            (j) =>
              ({
                name: j.name,
                payload: j.payload,
                options: { delayMs: j.delayMs, lifo: j.lifo, ...(j.dedupe ? { dedupe: j.dedupe } : {}) },
              }) as BulkJob,
          ),
        )
      : Promise.resolve();
  for (const ended of effects.endedRuns) {
    recordRunSpan(ended.trace, ended);
    recordRunMetrics(deps, ended);
  }
  const results = await Promise.allSettled([delivered, ...aborts, jobs]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  // A lost job is repaired by the sweeper; a lost abort leaves a call to its lease's end. Log, then surface.
  if (failed) {
    deps.logger.warn(
      { err: failed.reason },
      "effects after commit partly failed; the sweeper will repair missing jobs",
    );
    throw failed.reason;
  }
}

/**
 * Publishes a committed event (once per outbox key), after the durable events of its flow
 * committed before it: those whose process has not published them (it died, or lost Redis)
 * are read from the outbox and published first, so a flow's events keep their order. A flow
 * whose events Redis lost refuses it: the outbox relay republishes the flow's durable
 * events, this one included.
 */
async function publishEvent(deps: RunDeps, e: EffectEvent): Promise<void> {
  const before = e.outboxBefore ?? [];
  const input = { stepId: e.stepId, data: e.data, numbered: true } as const;
  try {
    if (e.outboxKey === undefined) {
      await deps.bus.publish(e.flowId, e.type, input);
      return;
    }
    try {
      await deps.bus.publish(e.flowId, e.type, { ...input, outboxKey: e.outboxKey, after: before.map((b) => b.key) });
    } catch (error) {
      if (!(error instanceof EarlierEventsUnpublishedError)) throw error;
      const earlier = await listOutboxEvents(
        deps.db,
        before.map((b) => b.id),
      );
      const own = {
        key: e.outboxKey,
        type: e.type,
        stepId: e.stepId ?? null,
        data: e.data,
        timestamp: new Date().toISOString(),
      };
      const published = await deps.bus.relay(e.flowId, [...earlier.map(relayedEvent), own], null);
      deps.logger.info({ flowId: e.flowId, published }, "published a flow's earlier events first");
    }
  } catch (error) {
    if (!(error instanceof FlowEventsLostError) || e.outboxKey === undefined) throw error;
    deps.logger.info(
      { flowId: e.flowId, type: e.type },
      "flow events lost from Redis: the outbox relay publishes this one",
    );
  }
}
