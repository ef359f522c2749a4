import { storableJson, storableText, type FlowStreamUpdate } from "@ensemble/core";
import { deleteOutboxEvents, insertFlowEvents, type FlowEventRow } from "@ensemble/db";
import type { RunDeps } from "../engine-deps.js";
import { relayFlows } from "./relay-events.js";

const PAGE = 1_000;
/** Flows archived per batch: their events are read in one pipelined round trip and written in one statement per 500 rows. */
const FLOWS_PER_BATCH = 100;

/**
 * `flow.archive-events`: copies one flow's events from the Redis stream (which expires)
 * into Postgres, so replay works for as long as the flow exists. Idempotent.
 */
export async function archiveEvents(deps: RunDeps, flowId: string): Promise<number> {
  let after = 0;
  let total = 0;
  for (;;) {
    const events = await deps.bus.readAfter(flowId, after, PAGE);
    if (events.length === 0) return total;
    await insertFlowEvents(
      deps.db,
      events.map((e) => toRow(flowId, e)),
    );
    total += events.length;
    if (events.length < PAGE) return total; // a short page is the last
    after = events[events.length - 1]?.id ?? after;
  }
}

/**
 * `flow.archive-due` (every second, from the scheduler): archives every ended flow whose
 * time has come (see ArchiveSchedule), in batches — one job for many flows rather than
 * a delayed job per flow. A flow is taken off the schedule only once its events are
 * written, or the database refused its rows (see isolated): one flow never holds up the others.
 * Its outbox rows are published first where its stream lacks them, so the archive holds every
 * durable event, and deleted once it is archived.
 */
export async function archiveDueFlows(deps: RunDeps, now = Date.now()): Promise<number> {
  let flows = 0;
  for (;;) {
    const due = await deps.archives.due(now, FLOWS_PER_BATCH);
    if (due.length === 0) return flows;
    // Whatever of their durable events the streams lack (a crash, a Redis wipe) goes there first.
    const relayed = await relayFlows(
      deps,
      due.map((d) => d.flowId),
    );
    const pages = await Promise.all(due.map((d) => deps.bus.readAfter(d.flowId, 0, PAGE)));
    const rowsByFlow = new Map<string, FlowEventRow[]>();
    const long: string[] = [];
    due.forEach((d, i) => {
      const events = pages[i] ?? [];
      if (events.length === PAGE)
        long.push(d.flowId); // more than a page: archived on its own
      else
        rowsByFlow.set(
          d.flowId,
          events.map((e) => toRow(d.flowId, e)),
        );
    });
    const refused = new Set<string>();
    try {
      await insertFlowEvents(deps.db, [...rowsByFlow.values()].flat());
    } catch (error) {
      if (!isRowError(error)) throw error;
      // One flow's rows failed the statement: archive each flow alone, so only that one is left out.
      for (const [flowId, rows] of rowsByFlow)
        if (!(await isolated(deps, flowId, () => insertFlowEvents(deps.db, rows)))) refused.add(flowId);
    }
    for (const flowId of long)
      if (!(await isolated(deps, flowId, () => archiveEvents(deps, flowId)))) refused.add(flowId);
    // Archived (or given up): the outbox rows the streams had when read go.
    await deleteOutboxEvents(
      deps.db,
      [...relayed.upToId].map(([flowId, upToId]) => ({ flowId, upToId })),
    );
    await deps.archives.done(due);
    await shortenArchivedStreams(
      deps,
      due.map((d) => d.flowId).filter((id) => !refused.has(id)),
    );
    flows += due.length;
    if (due.length < FLOWS_PER_BATCH) return flows;
  }
}

/**
 * Runs one flow's archive; a failure its own rows cause is logged by flow id and SQLSTATE
 * (never the rows: they are a tenant's prompts and outputs) and that flow is given up, so
 * it cannot fail the batch every second. Its events stay in the Redis stream for their
 * retention. Other failures (the database unreachable) are thrown: the job retries.
 * True when the flow was archived.
 */
async function isolated(deps: RunDeps, flowId: string, archive: () => Promise<unknown>): Promise<boolean> {
  try {
    await archive();
    return true;
  } catch (error) {
    if (!isRowError(error)) throw error;
    const { code, message } = error as { code: string; message: string };
    deps.logger.error({ flowId, code, reason: message }, "flow events not archived: the database refused them");
    deps.metrics
      ?.recordArchiveFailure()
      .catch((err: unknown) => deps.logger.debug({ err }, "archive failure not counted"));
    return false;
  }
}

/**
 * Archived flows' Redis streams are kept only `archivedEventsTtlMs` more (readers then
 * take their history from Postgres), so Redis memory stays flat however many flows run.
 * A flow executed again meanwhile gets its full retention back with its next event.
 * Best effort: a stream left with its long retention only costs memory.
 */
async function shortenArchivedStreams(deps: RunDeps, flowIds: string[]): Promise<void> {
  const seconds = Math.max(1, Math.ceil(deps.settings.archivedEventsTtlMs / 1000));
  const results = await Promise.allSettled(flowIds.map((id) => deps.bus.expire(id, seconds)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) deps.logger.warn({ err: failed.reason }, "archived event streams keep their retention");
}

/** Data exceptions (SQLSTATE class 22) and constraint violations (23, e.g. a flow deleted meanwhile) are about the rows. */
function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

/** Events are whatever reached the stream: stored with NUL and lone surrogates replaced (see storableText). */
function toRow(flowId: string, e: FlowStreamUpdate): FlowEventRow {
  return {
    flowId,
    seq: e.id,
    type: e.type,
    stepId: e.stepId === undefined ? null : storableText(e.stepId),
    data: storableJson(e.data ?? null),
    createdAt: new Date(e.timestamp),
  };
}
