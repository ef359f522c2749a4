import { sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { lockFlow, type FlowRow } from "./flows.js";
import { newId } from "./ids.js";
import { executeRows, fromJsonRow } from "./json-rows.js";
import type { ClaimStepInput, StepResultRow } from "./step-results.js";
import type { PolicyRow } from "./threads.js";

/*
 * The two statements on every step's path, each one round trip: they are what a
 * step costs beyond its provider call (see docs/performance.md).
 */

export interface ClaimedStep {
  claimed: StepResultRow;
  flow: FlowRow;
  /** The run's step instances, the claimed one as it is now. */
  rows: StepResultRow[];
  policies: PolicyRow[];
}

/**
 * Takes the lease on a pending instance, or on a running one whose lease expired (its
 * worker died), bumping the fencing token so the old holder can no longer commit; and
 * reads what running it needs — the flow, the run's results, the owner's data-sharing policies — at once.
 * Undefined when the instance cannot be claimed.
 */
export async function claimStepWithContext(db: Executor, input: ClaimStepInput): Promise<ClaimedStep | undefined> {
  const [row] = await executeRows<{ claimed: Record<string, unknown> | null; flow: Record<string, unknown> | null; rows: Record<string, unknown>[]; policies: Record<string, unknown>[] }>(
    db,
    sql`
      with claimed as (
        update step_results set
          status = 'running',
          lease_token = lease_token + 1,
          lease_owner = ${input.owner},
          lease_expires_at = clock_timestamp() + make_interval(secs => ${input.leaseMs / 1000}),
          started_at = coalesce(started_at, clock_timestamp())
        where flow_id = ${input.flowId} and run = ${input.run} and step_id = ${input.stepId}
          and iteration = ${input.iteration} and attempt = ${input.attempt}
          and (status = 'pending' or (status = 'running' and lease_expires_at < clock_timestamp()))
        returning *
      ), flow as (select * from flows where id = ${input.flowId})
      select
        (select row_to_json(c) from claimed c) as claimed,
        (select row_to_json(f) from flow f) as flow,
        (select coalesce(json_agg(s), '[]'::json) from step_results s where s.flow_id = ${input.flowId} and s.run = ${input.run}) as rows,
        (select coalesce(json_agg(p), '[]'::json) from data_sharing_policies p where p.user_id = (select user_id from flow)) as policies
    `,
  );
  const claimed = fromJsonRow<StepResultRow>(row?.claimed);
  const flow = fromJsonRow<FlowRow>(row?.flow);
  if (!row || !claimed || !flow) return undefined;
  // The statement's snapshot predates its own update: put the claimed row in.
  const rows = row.rows.map((r) => fromJsonRow<StepResultRow>(r) as StepResultRow).map((r) => (r.id === claimed.id ? claimed : r));
  return { claimed, flow, rows, policies: row.policies.map((p) => fromJsonRow<PolicyRow>(p) as PolicyRow) };
}

export interface FinishStepInput {
  id: string;
  flowId: string;
  run: number;
  attempt: number;
  leaseToken: number;
  status: "success" | "failed" | "skipped";
  output: string | null;
  provider: string;
  model: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cachedTokens?: number; reasoningTokens?: number } | null;
  cost: number | null;
  error: StepResultRow["error"];
}

export interface FinishedStep {
  /** The flow, locked until the transaction ends. */
  flow: FlowRow;
  /** The run's instances, this one as committed. */
  rows: StepResultRow[];
}

/**
 * In one round trip (inside the caller's transaction): locks the flow row, then writes the
 * attempt's outcome if the lease is still held, its ledger row (once per attempt),
 * the flow's totals and, when the run saves messages, the thread message (once per
 * step result); returns the flow and the run's instances for planning. Undefined
 * when the lease was lost: nothing was written.
 */
export async function finishStepWrites(tx: Executor, input: FinishStepInput): Promise<FinishedStep | undefined> {
  const usage = input.usage;
  const messageId = newId();
  // The lock is its own statement, sent in the same write as the next one: Postgres runs
  // them in order, so the next statement's snapshot is taken once the lock is held and
  // sees what a step that finished just before committed. (Inside one statement, a
  // row lock waited for would not refresh the rest of the statement's snapshot, and two
  // parallel steps finishing together could each miss the other.)
  const locked = lockFlow(tx, input.flowId);
  const rowsPromise = executeRows<{ done: Record<string, unknown> | null; rows: Record<string, unknown>[] }>(
    tx,
    sql`
      with flow as (select * from flows where id = ${input.flowId}),
      done as (
        update step_results set
          status = ${input.status},
          output = ${input.output},
          provider = ${input.provider},
          model = ${input.model},
          usage = ${usage ? JSON.stringify(usage) : null}::jsonb,
          cost = ${input.cost},
          error = ${input.error ? JSON.stringify(input.error) : null}::jsonb,
          message_id = case when ${input.status} = 'success' and (select save_messages from flow) then ${messageId} end,
          lease_expires_at = null,
          completed_at = clock_timestamp()
        where id = ${input.id} and lease_token = ${input.leaseToken} and status = 'running'
        returning *
      ),
      ledger as (
        insert into usage_ledger (id, step_result_id, attempt, flow_id, user_id, provider, model, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost)
        select ${newId()}, done.id, ${input.attempt}, done.flow_id, (select user_id from flow), done.provider, done.model,
               ${usage?.promptTokens ?? 0}, ${usage?.completionTokens ?? 0}, ${usage?.cachedTokens ?? 0}, ${usage?.reasoningTokens ?? 0}, ${input.cost}
        from done where ${usage !== null}
        on conflict (step_result_id, attempt) do nothing
      ),
      totals as (
        update flows set total_tokens = total_tokens + ${usage?.totalTokens ?? 0}, total_cost = total_cost + ${input.cost ?? 0}
        where id = ${input.flowId} and exists (select 1 from done) and ${usage !== null}
      ),
      message as (
        insert into messages (id, thread_id, role, content, provider, metadata, step_result_id)
        select ${messageId}, f.thread_id, 'assistant', done.output, done.provider,
               jsonb_build_object('orchestrationFlowId', done.flow_id, 'stepId', done.step_id, 'iteration', done.iteration, 'model', done.model),
               done.id
        from done, flow f where done.message_id is not null
        on conflict (step_result_id) do nothing
      )
      select
        (select row_to_json(d) from done d) as done,
        (select coalesce(json_agg(s), '[]'::json) from step_results s where s.flow_id = ${input.flowId} and s.run = ${input.run}) as rows
    `,
  );
  const [flow, [row]] = await Promise.all([locked, rowsPromise]);
  const done = fromJsonRow<StepResultRow>(row?.done);
  if (!row || !done || !flow) return undefined;
  const rows = row.rows.map((r) => fromJsonRow<StepResultRow>(r) as StepResultRow).map((r) => (r.id === done.id ? done : r));
  return { flow, rows };
}
