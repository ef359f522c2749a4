import type { FlowEventInput } from "@ensemble/core";
import { sendOutboxEvents, type Executor, type OutboxEventInput, type TransactionControl } from "@ensemble/db";
import { randomUUID } from "node:crypto";
import type { EngineDeps } from "../engine-deps.js";

/**
 * A durable event a transaction commits: every event of `RunEffects` (what a commit
 * announces). `outboxKey` is set once the event is written to the outbox in that
 * transaction; it is published once per key.
 */
export type EffectEvent = FlowEventInput & { outboxKey?: string; ifWritten?: OutboxEventInput["ifWritten"] };

/**
 * Writes the events not written yet to the outbox in the caller's transaction, sent at once
 * and committed with it (`commitAfter`), and gives each its key.
 */
export function stageEvents(tx: Executor, control: TransactionControl, events: EffectEvent[]): void {
  const unstaged = events.filter((e) => e.outboxKey === undefined);
  if (unstaged.length === 0) return;
  for (const e of unstaged) e.outboxKey = randomUUID();
  control.commitAfter(
    sendOutboxEvents(
      tx,
      unstaged.map((e) => ({
        key: e.outboxKey as string,
        flowId: e.flowId,
        type: e.type,
        stepId: e.stepId ?? null,
        data: e.data,
        ...(e.ifWritten ? { ifWritten: e.ifWritten } : {}),
      })),
    ),
  );
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
