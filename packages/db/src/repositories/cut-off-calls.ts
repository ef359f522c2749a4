import { and, asc, eq, sql } from "drizzle-orm";
import type { Database, Executor } from "../client.js";
import { cutOffCalls, flowRuns, flows } from "../schema/tables.js";
import { newId } from "./ids.js";

/** A provider call cut off by a lost lease, as the worker that lost the lease knows it. */
export interface CutOffCallInput {
  stepResultId: string;
  attempt: number;
  /** The lease the calling worker held and lost: the row's key with the step. */
  leaseToken: number;
  flowId: string;
  run: number;
  /** Whom the call is billed to: the run's executing user. */
  userId: string;
  provider: string;
  model: string;
  /** Estimated: the request as the tokenizer counts it. */
  promptTokens: number;
  /** Estimated: the output streamed until the cut. */
  completionTokens: number;
  /** USD at the price table; null when the model has no price. */
  cost: number | null;
}

/**
 * Records a cut-off call in `cut_off_calls` (it is money: spend caps and GET /v1/usage sum
 * it with the usage ledger) and adds it to its run's totals on the flow row (or, once the run is archived, its
 * `flow_runs` row), in one transaction. Written by the worker that lost the lease, without
 * touching the step's row (the new holder's). Once per lost lease, however often it is
 * retried: the totals are added only with the row. False when it was already there.
 *
 * The flow row's totals are added to, never set from a read: a run's end adds its
 * instances' spend to them in the same way, so the two meet in either order.
 */
export async function recordCutOffCall(db: Database, call: CutOffCallInput): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [written] = await tx
      .insert(cutOffCalls)
      .values({
        id: newId(),
        stepResultId: call.stepResultId,
        attempt: call.attempt,
        leaseToken: call.leaseToken,
        flowId: call.flowId,
        run: call.run,
        userId: call.userId,
        provider: call.provider,
        model: call.model,
        promptTokens: call.promptTokens,
        completionTokens: call.completionTokens,
        cost: call.cost,
      })
      .onConflictDoNothing({ target: [cutOffCalls.stepResultId, cutOffCalls.leaseToken] })
      .returning({ id: cutOffCalls.id });
    if (!written) return false;
    const costUsd = call.cost ?? 0;
    const tokens = call.promptTokens + call.completionTokens;
    const onFlow = await tx
      .update(flows)
      .set({ totalCost: sql`${flows.totalCost} + ${costUsd}`, totalTokens: sql`${flows.totalTokens} + ${tokens}` })
      .where(and(eq(flows.id, call.flowId), eq(flows.run, call.run)))
      .returning({ id: flows.id });
    // A statement of its own: it sees the run archived by a rerun that committed meanwhile.
    if (onFlow.length === 0)
      await tx
        .update(flowRuns)
        .set({
          totalCost: sql`${flowRuns.totalCost} + ${costUsd}`,
          totalTokens: sql`${flowRuns.totalTokens} + ${tokens}`,
        })
        .where(and(eq(flowRuns.flowId, call.flowId), eq(flowRuns.run, call.run)));
    return true;
  });
}

/** A flow's recorded cut-off calls, oldest first. */
export async function listCutOffCalls(db: Executor, flowId: string): Promise<(typeof cutOffCalls.$inferSelect)[]> {
  return db.select().from(cutOffCalls).where(eq(cutOffCalls.flowId, flowId)).orderBy(asc(cutOffCalls.createdAt));
}
