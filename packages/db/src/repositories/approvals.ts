import { and, arrayContains, asc, eq, exists, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { flows, stepResults, threadMembers, threads } from "../schema/tables.js";
import type { StepResultRow } from "./step-results.js";

/** How a waiting approval step was decided, as its row records it. */
export interface ApprovalDecisionWrite {
  status: "success" | "failed";
  output: string;
  error: StepResultRow["error"];
}

/**
 * Decides a waiting approval step: one conditional UPDATE, so of two racing decisions (two
 * people, or a person and the timeout) exactly one finds it `waiting`. Null when it was not.
 */
export async function decideWaitingStep(
  db: Executor,
  id: string,
  decision: ApprovalDecisionWrite,
): Promise<StepResultRow | null> {
  const [row] = await db
    .update(stepResults)
    .set({ ...decision, completedAt: sql`clock_timestamp()` })
    .where(and(eq(stepResults.id, id), eq(stepResults.status, "waiting")))
    .returning();
  return row ?? null;
}

/** A waiting approval step with its flow, as GET /v1/approvals lists it. */
export interface WaitingApproval {
  flowId: string;
  flowName: string;
  threadId: string;
  run: number;
  stepId: string;
  iteration: number;
  prompt: string;
  createdAt: Date;
  expiresAt: Date | null;
}

/**
 * The approval steps waiting in the current runs of the flows a user may decide on: those
 * of threads they own or where they have `write`. Oldest first.
 */
export async function listWaitingApprovals(db: Executor, userId: string, limit: number): Promise<WaitingApproval[]> {
  const mayWrite = or(
    eq(threads.ownerId, userId),
    exists(
      db
        .select({ one: threadMembers.threadId })
        .from(threadMembers)
        .where(
          and(
            eq(threadMembers.threadId, threads.id),
            eq(threadMembers.userId, userId),
            arrayContains(threadMembers.permissions, ["write"]),
          ),
        ),
    ),
  );
  const rows = await db
    .select({
      flowId: flows.id,
      flowName: flows.name,
      threadId: flows.threadId,
      run: stepResults.run,
      stepId: stepResults.stepId,
      iteration: stepResults.iteration,
      prompt: stepResults.approvalPrompt,
      createdAt: stepResults.createdAt,
      expiresAt: stepResults.expiresAt,
    })
    .from(stepResults)
    .innerJoin(flows, and(eq(flows.id, stepResults.flowId), eq(flows.run, stepResults.run)))
    .innerJoin(threads, eq(threads.id, flows.threadId))
    .where(and(eq(stepResults.status, "waiting"), mayWrite))
    .orderBy(asc(stepResults.createdAt), asc(stepResults.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, prompt: r.prompt ?? "" }));
}

/** Waiting approval steps whose timeout has passed (the sweeper's net under their delayed jobs). */
export async function listExpiredApprovals(db: Executor, limit = 500): Promise<StepResultRow[]> {
  return db
    .select()
    .from(stepResults)
    .where(and(eq(stepResults.status, "waiting"), lt(stepResults.expiresAt, sql`clock_timestamp()`)))
    .limit(limit);
}
