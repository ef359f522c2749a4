import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { stepResults, usageLedger } from "../schema/tables.js";
import { newId } from "./ids.js";

/** A provider call cut off by a lost lease, as the worker that lost the lease knows it. */
export interface CutOffCallInput {
  stepResultId: string;
  attempt: number;
  /** The lease the calling worker held and lost: the row's key with the step. */
  leaseToken: number;
  flowId: string;
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
 * Records a cut-off call in the usage ledger (it is money: spend caps and GET /v1/usage sum
 * it). Written by the worker that lost the lease, without touching the step's row (the new
 * holder's); once per lost lease, however often it is retried. False when it was already there.
 */
export async function recordCutOffCall(db: Executor, call: CutOffCallInput): Promise<boolean> {
  const written = await db
    .insert(usageLedger)
    .values({
      id: newId(),
      stepResultId: call.stepResultId,
      attempt: call.attempt,
      cutOffLeaseToken: call.leaseToken,
      flowId: call.flowId,
      userId: call.userId,
      provider: call.provider,
      model: call.model,
      promptTokens: call.promptTokens,
      completionTokens: call.completionTokens,
      cost: call.cost,
    })
    .onConflictDoNothing({
      target: [usageLedger.stepResultId, usageLedger.cutOffLeaseToken],
      where: sql`cut_off_lease_token is not null`,
    })
    .returning({ id: usageLedger.id });
  return written.length > 0;
}

/** What a flow's runs spent on calls cut off by lost leases (estimated), by run. */
export interface RunCutOffSpend {
  run: number;
  costUsd: number;
  tokens: number;
}

/**
 * The estimated spend of calls cut off by lost leases in a flow's runs (all of them, or
 * those in `runs`): a run's cost includes it, though no step result does.
 */
export async function listRunCutOffSpend(
  db: Executor,
  flowId: string,
  runs?: readonly number[],
): Promise<RunCutOffSpend[]> {
  const rows = await db
    .select({
      run: stepResults.run,
      costUsd: sql<number>`coalesce(sum(${usageLedger.cost}), 0)::float8`,
      tokens: sql<string>`coalesce(sum(${usageLedger.promptTokens} + ${usageLedger.completionTokens}), 0)`,
    })
    .from(usageLedger)
    .innerJoin(stepResults, eq(stepResults.id, usageLedger.stepResultId))
    .where(
      and(
        eq(usageLedger.flowId, flowId),
        isNotNull(usageLedger.cutOffLeaseToken),
        ...(runs ? [inArray(stepResults.run, [...runs])] : []),
      ),
    )
    .groupBy(stepResults.run);
  return rows.map((r) => ({ run: r.run, costUsd: Number(r.costUsd), tokens: Number(r.tokens) }));
}
