import { storableJson, type FlowEventInput } from "@ensemble/core";
import {
  sendOutboxEvents,
  type Executor,
  type OutboxEventInput,
  type OutboxEventRow,
  type OutboxRef,
  type TransactionControl,
} from "@ensemble/db";
import type { RelayedEvent } from "@ensemble/queue";
import { randomUUID } from "node:crypto";
import type { EngineDeps } from "../engine-deps.js";

/**
 * A durable event a transaction commits: every event of `RunEffects` (what a commit
 * announces). `outboxKey` is set once the event is written to the outbox in that
 * transaction (it is published once per key); `outboxBefore`, by the time the transaction
 * has committed, to the flow's outbox rows that were there before it (published first).
 */
export type EffectEvent = FlowEventInput & {
  outboxKey?: string;
  outboxBefore?: OutboxRef[];
  ifWritten?: OutboxEventInput["ifWritten"];
};

/**
 * Writes the events not written yet to the outbox in the caller's transaction, sent at once
 * and committed with it (`commitAfter`), and gives each its key.
 */
export function stageEvents(tx: Executor, control: TransactionControl, events: EffectEvent[]): void {
  const unstaged = events.filter((e) => e.outboxKey === undefined);
  if (unstaged.length === 0) return;
  for (const e of unstaged) {
    e.outboxKey = randomUUID();
    // Text Postgres cannot store would fail the whole commit; published as it is stored.
    (e as { data: unknown }).data = storableJson(e.data);
  }
  const sent = sendOutboxEvents(
    tx,
    unstaged.map((e) => ({
      key: e.outboxKey as string,
      flowId: e.flowId,
      type: e.type,
      stepId: e.stepId ?? null,
      data: e.data,
      ...(e.ifWritten ? { ifWritten: e.ifWritten } : {}),
    })),
  );
  // Registered before `transact` awaits the statement, so this runs first: once the
  // transaction has committed, each event has its rows, and publishing it needs no await
  // (the next step's events, sent right after, stay behind it on the connection).
  sent.then(
    (written) => {
      const byKey = new Map(written.map((w) => [w.key, w.before]));
      for (const e of unstaged) e.outboxBefore = byKey.get(e.outboxKey as string) ?? [];
    },
    () => undefined, // the transaction failed: nothing is announced
  );
  control.commitAfter(sent);
}

/**
 * Forgets the keys a transaction that failed gave `events` (they belong to nothing
 * committed), so the next transaction writes them anew.
 */
export function unstageEvents(events: EffectEvent[]): void {
  for (const e of events) {
    delete e.outboxKey;
    delete e.outboxBefore;
  }
}

/** `deps.transact`, with the events `fn` adds to `events` written to the outbox before COMMIT. */
export function transactWithEvents<T>(
  deps: Pick<EngineDeps, "transact">,
  events: EffectEvent[],
  fn: (tx: Executor, control: TransactionControl) => Promise<T>,
): Promise<T> {
  return deps.transact(async (tx, control) => {
    const result = await fn(tx, control);
    stageEvents(tx, control, events);
    return result;
  });
}

/** An outbox row as the bus relays it. */
export function relayedEvent(row: OutboxEventRow): RelayedEvent {
  return { key: row.key, type: row.type, stepId: row.stepId, data: row.data, timestamp: row.createdAt.toISOString() };
}
