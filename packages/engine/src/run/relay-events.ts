import {
  deleteOutboxEvents,
  lastArchivedEventId,
  listOutboxEvents,
  listOutboxFlows,
  listOutboxKeys,
} from "@ensemble/db";
import { FlowEventsLostError } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";
import { relayedEvent } from "./event-outbox.js";

/** An outbox row this old is owed to Redis by a process that crashed, or lost its Redis. */
export const RELAY_AFTER_MS = 3_000;
/** Flows looked at per relay pass. */
const FLOWS_PER_PASS = 500;
/**
 * A flow whose events Redis lost numbers on from the next multiple of this above its
 * archived events: above any id a client may have seen (the lost ids are not in Postgres).
 */
const LOST_NUMBERING_STEP = 1_000_000;

/** What relaying some flows' outbox rows found. */
export interface RelayedFlows {
  /** Events published now (not published by their own process). */
  published: number;
  /** Per flow, its highest outbox id now in its Redis stream. */
  upToId: Map<string, number>;
}

/**
 * Publishes these flows' outbox rows that their Redis streams lack, oldest first, each once
 * (by its key). A flow whose events Redis lost (wiped, or expired) gets them all again, in
 * order, numbered on above its earlier ids, before any new event of it.
 */
export async function relayFlows(deps: RunDeps, flowIds: readonly string[]): Promise<RelayedFlows> {
  const rows = await listOutboxKeys(deps.db, flowIds);
  const byFlow = new Map<string, { id: number; key: string }[]>();
  for (const row of rows) {
    const list = byFlow.get(row.flowId) ?? [];
    list.push(row);
    byFlow.set(row.flowId, list);
  }
  const upToId = new Map<string, number>();
  let published = 0;
  const checks = await Promise.all(
    [...byFlow].map(async ([flowId, list]) => ({
      flowId,
      list,
      missing: await deps.bus.unpublished(
        flowId,
        list.map((r) => r.key),
      ),
    })),
  );
  for (const { flowId, list, missing } of checks) {
    upToId.set(flowId, list[list.length - 1]?.id ?? 0);
    if (missing.keys.length === 0) continue;
    const wanted = new Set(missing.keys);
    const events = await listOutboxEvents(
      deps.db,
      list.filter((r) => wanted.has(r.key)).map((r) => r.id),
    );
    const floor = missing.lost ? await lostNumberingFloor(deps, flowId) : null;
    try {
      const count = await deps.bus.relay(flowId, events.map(relayedEvent), floor);
      published += count;
      if (floor !== null)
        deps.logger.warn({ flowId, republished: count, from: floor + 1 }, "flow events restored to Redis");
    } catch (error) {
      // Lost since it was checked: the next pass restores it.
      if (!(error instanceof FlowEventsLostError)) throw error;
    }
  }
  return { published, upToId };
}

/**
 * The outbox relay (`flow.sweep`): flows with an outbox row older than RELAY_AFTER_MS get
 * what their streams lack. Such a flow whose run has ended is archived again (its archive
 * entry may have been lost with Redis); the rows of a deleted flow are dropped.
 */
export async function relayOutbox(deps: RunDeps): Promise<number> {
  const flows = await listOutboxFlows(deps.db, RELAY_AFTER_MS, FLOWS_PER_PASS);
  if (flows.length === 0) return 0;
  const gone = flows.filter((f) => f.status === null).map((f) => f.flowId);
  if (gone.length > 0)
    await deleteOutboxEvents(
      deps.db,
      gone.map((flowId) => ({ flowId, upToId: Number.MAX_SAFE_INTEGER })),
    );
  const live = flows.filter((f) => f.status !== null);
  const { published } = await relayFlows(
    deps,
    live.map((f) => f.flowId),
  );
  const ended = live.filter((f) => !OPEN_STATUSES.has(f.status as string)).map((f) => f.flowId);
  if (ended.length > 0) await deps.archives.add(ended, Date.now());
  if (published > 0) deps.logger.info({ published, flows: live.length }, "outbox relay published events");
  return published;
}

const OPEN_STATUSES = new Set(["queued", "running", "waiting"]);

async function lostNumberingFloor(deps: RunDeps, flowId: string): Promise<number> {
  const archived = await lastArchivedEventId(deps.db, flowId);
  return (Math.floor(archived / LOST_NUMBERING_STEP) + 1) * LOST_NUMBERING_STEP;
}
