import type { FlowEventType } from "@ensemble/core";
import type { Executor } from "../client.js";
import { sendStatement } from "./statements.js";

/** A durable event as its transaction writes it to the outbox. */
export interface OutboxEventInput {
  /** Publish-once key (the Redis side skips a key its flow's stream already has). */
  key: string;
  flowId: string;
  type: FlowEventType;
  stepId: string | null;
  data: unknown;
  /**
   * Written only if this transaction wrote this step instance (its end): for an end sent in
   * a batch whose other writes commit even when its lease was lost.
   */
  ifWritten?: { stepResultId: string };
}

export interface OutboxEventRow extends Omit<OutboxEventInput, "ifWritten"> {
  id: number;
  createdAt: Date;
}

/** An outbox row, by id and key. */
export interface OutboxRef {
  id: number;
  key: string;
}

/** A written outbox event, with the rows of its flow committed before it (its transaction saw them). */
export interface WrittenOutboxEvent {
  key: string;
  /** Oldest first: they are published before it (see `ProgressBus.publish`'s `after`). */
  before: OutboxRef[];
}

/**
 * Writes events to the outbox in the caller's transaction, in the given order (their ids
 * follow it): one statement however many, sent at once so it can travel with the
 * transaction's other writes and its COMMIT (`TransactionControl.commitAfter`). Resolves
 * with each written event and the rows of its flow already in the outbox.
 */
export async function sendOutboxEvents(
  tx: Executor,
  events: readonly OutboxEventInput[],
): Promise<WrittenOutboxEvent[]> {
  const rows = events.map((e) => ({
    key: e.key,
    flow_id: e.flowId,
    type: e.type,
    step_id: e.stepId,
    data: e.data,
    ...(e.ifWritten ? { result_id: e.ifWritten.stepResultId } : {}),
  }));
  const written = await sendStatement<{ key: string; before: [number | string, string][] | string }>(
    tx,
    INSERT_OUTBOX_STATEMENT,
    [JSON.stringify(rows)],
  );
  return written.map((w) => {
    const before = typeof w.before === "string" ? (JSON.parse(w.before) as [number, string][]) : w.before;
    return { key: w.key, before: before.map(([id, key]) => ({ id: Number(id), key })) };
  });
}

// The subquery reads the statement's snapshot: the flow's rows committed (or written earlier
// in this transaction) before these, not these. The step check is a scalar subquery, not
// `exists`: for rows from JSON the planner guesses 100 and hashed an `exists` over a full
// scan of step_results (2 ms a statement with 20,000 instances stored); a scalar subquery
// is one primary-key lookup per row.
const INSERT_OUTBOX_STATEMENT = `
  with written as (
    insert into flow_event_outbox (key, flow_id, type, step_id, data)
    select r.key, r.flow_id, r.type, r.step_id, r.data
    from rows from (jsonb_to_recordset($1::jsonb)
      as (key text, flow_id text, type text, step_id text, data jsonb, result_id text)) with ordinality
      as r(key, flow_id, type, step_id, data, result_id, n)
    where r.result_id is null
       or coalesce((select s.xmin = pg_current_xact_id()::xid from step_results s where s.id = r.result_id), false)
    order by r.n
    returning id, key, flow_id
  )
  select w.key,
         coalesce((select json_agg(json_build_array(o.id, o.key) order by o.id)
                   from flow_event_outbox o where o.flow_id = w.flow_id), '[]'::json) as before
  from written w order by w.id`;

/** A flow with outbox rows, and its status (null: the flow is gone). */
export interface OutboxFlow {
  flowId: string;
  status: string | null;
}

/** Flows that have an outbox row older than `olderThanMs` (at most `limit`), oldest first. */
export async function listOutboxFlows(db: Executor, olderThanMs: number, limit: number): Promise<OutboxFlow[]> {
  const rows = await sendStatement<{ flow_id: string; status: string | null }>(
    db,
    `select o.flow_id, f.status
     from (select flow_id, min(id) as first from flow_event_outbox
           where created_at < now() - $1 * interval '1 millisecond'
           group by flow_id order by first limit $2) o
     left join flows f on f.id = o.flow_id
     order by o.first`,
    [olderThanMs, limit],
  );
  return rows.map((r) => ({ flowId: r.flow_id, status: r.status }));
}

/** The outbox keys of these flows, oldest first: what the relay checks against Redis. */
export async function listOutboxKeys(
  db: Executor,
  flowIds: readonly string[],
): Promise<{ id: number; key: string; flowId: string }[]> {
  if (flowIds.length === 0) return [];
  const rows = await sendStatement<{ id: string; key: string; flow_id: string }>(
    db,
    `select id, key, flow_id from flow_event_outbox where flow_id = any(array(select jsonb_array_elements_text($1::jsonb))) order by id`,
    [JSON.stringify(flowIds)],
  );
  return rows.map((r) => ({ id: Number(r.id), key: r.key, flowId: r.flow_id }));
}

/** These outbox rows in full, oldest first. */
export async function listOutboxEvents(db: Executor, ids: readonly number[]): Promise<OutboxEventRow[]> {
  if (ids.length === 0) return [];
  const rows = await sendStatement<{
    id: string;
    key: string;
    flow_id: string;
    type: FlowEventType;
    step_id: string | null;
    data: unknown;
    created_at: string | Date;
  }>(
    db,
    `select id, key, flow_id, type, step_id, data, created_at from flow_event_outbox where id = any(array(select (jsonb_array_elements_text($1::jsonb))::bigint)) order by id`,
    [JSON.stringify(ids)],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    key: r.key,
    flowId: r.flow_id,
    type: r.type,
    stepId: r.step_id,
    data: r.data,
    createdAt: new Date(r.created_at),
  }));
}

/** Deletes each flow's outbox rows up to `upToId` (its events are archived, or the flow is gone). */
export async function deleteOutboxEvents(
  db: Executor,
  flows: readonly { flowId: string; upToId: number }[],
): Promise<void> {
  if (flows.length === 0) return;
  await sendStatement(
    db,
    `delete from flow_event_outbox o
     using jsonb_to_recordset($1::jsonb) as d(flow_id text, up_to bigint)
     where o.flow_id = d.flow_id and o.id <= d.up_to`,
    [JSON.stringify(flows.map((f) => ({ flow_id: f.flowId, up_to: f.upToId })))],
  );
}
