import type { Executor } from "../client.js";
import type { FlowRow } from "./flows.js";
import { newId } from "./ids.js";
import { dataSharingPolicies, flows, stepResults } from "../schema/tables.js";
import { fromJsonRow, fromJsonRows } from "./json-rows.js";
import { namedStatement, sendStatement } from "./statements.js";
import type { ClaimStepInput, StepResultRow } from "./step-results.js";
import { runPoliciesSql, type PolicyRow } from "./threads.js";

/*
 * The statements on every step's path, hand-written and sent prepared (no query builder):
 * the claim, then one transaction — lock and finish in one write, the planner's writes and
 * COMMIT in the next. They are what a step costs beyond its provider call (see docs/performance.md).
 */

export interface ClaimedStep {
  claimed: StepResultRow;
  flow: FlowRow;
  /** The run's step instances, the claimed one as it is now. */
  rows: StepResultRow[];
  /** The data-sharing policies of the thread's owner and of the run's executor (see `strictestRules`). */
  policies: PolicyRow[];
  /** The claim took over a running step whose lease had expired (not set for a step leased by a finish). */
  tookOver?: boolean;
}

/**
 * Takes the lease on a pending instance, or on a running one whose lease expired (its
 * worker died), bumping the fencing token so the old holder can no longer commit; and
 * reads what running it needs — the flow, the run's results, the data-sharing policies that apply — at once.
 * Undefined when the instance cannot be claimed.
 */
export async function claimStepWithContext(db: Executor, input: ClaimStepInput): Promise<ClaimedStep | undefined> {
  const [row] = await sendStatement<{
    claimed: Record<string, unknown> | null;
    flow: Record<string, unknown> | null;
    rows: Record<string, unknown>[];
    policies: Record<string, unknown>[];
  }>(db, CLAIM_STATEMENT, [
    input.flowId,
    input.run,
    input.stepId,
    input.iteration,
    input.attempt,
    input.owner,
    input.leaseMs / 1000,
  ]);
  const claimed = fromJsonRow(stepResults, row?.claimed);
  const flow = fromJsonRow(flows, row?.flow);
  if (!row || !claimed || !flow) return undefined;
  // The statement's snapshot predates its own update: put the claimed row in (what it replaces
  // says whether the step was running, i.e. taken over).
  const before = fromJsonRows(stepResults, row.rows);
  const tookOver = before.some((r) => r.id === claimed.id && r.status === "running");
  const rows = before.map((r) => (r.id === claimed.id ? claimed : r));
  return { claimed, flow, rows, policies: fromJsonRows(dataSharingPolicies, row.policies), tookOver };
}

const CLAIM_STATEMENT = `
  with claimed as (
    update step_results set
      status = 'running',
      lease_token = lease_token + 1,
      lease_owner = $6,
      lease_expires_at = clock_timestamp() + make_interval(secs => $7),
      started_at = coalesce(started_at, clock_timestamp())
    where flow_id = $1 and run = $2 and step_id = $3 and iteration = $4 and attempt = $5
      and (status = 'pending' or (status = 'running' and lease_expires_at < clock_timestamp()))
    returning *
  ), flow as (select * from flows where id = $1)
  select
    (select row_to_json(c) from claimed c) as claimed,
    (select row_to_json(f) from flow f) as flow,
    (select coalesce(json_agg(s), '[]'::json) from step_results s where s.flow_id = $1 and s.run = $2) as rows,
    ${runPoliciesSql("$1")} as policies
`;

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
  usage: {
    promptTokens: number;
    completionTokens: number;
    totalTokens: number;
    cachedTokens?: number;
    cacheWriteTokens?: number;
    cacheWrite1hTokens?: number;
    reasoningTokens?: number;
  } | null;
  cost: number | null;
  error: StepResultRow["error"];
  /**
   * For an instance leased by the plan that finished the step before it: how long the
   * worker has been running it. Its `started_at` becomes now minus this (on the
   * database's clock), the moment the worker took it up after that plan committed.
   */
  leasedRunningMs?: number;
}

export interface FinishedStep {
  /** The flow, locked until the transaction ends. */
  flow: FlowRow;
  /** The run's instances, this one as committed. */
  rows: StepResultRow[];
}

/**
 * In one round trip (inside the caller's transaction): locks the flow row, then writes the
 * attempt's end (see `STEP_END_CTES`); returns the flow and the run's instances for
 * planning. Undefined when the lease was lost: nothing was written.
 */
export async function finishStepWrites(tx: Executor, input: FinishStepInput): Promise<FinishedStep | undefined> {
  // The lock is its own statement, sent in the same write as the next one: Postgres runs
  // them in order, so the next statement's snapshot is taken once the lock is held and
  // sees what a step that finished just before committed. (Inside one statement, a
  // row lock waited for would not refresh the rest of the statement's snapshot, and two
  // parallel steps finishing together could each miss the other.)
  const locked = sendStatement<{ flow: Record<string, unknown> }>(tx, LOCK_FLOW_STATEMENT, [input.flowId]);
  const finished = sendStatement<{ done: Record<string, unknown> | null; rows: Record<string, unknown>[] }>(
    tx,
    FINISH_UNDER_LOCK_STATEMENT.text,
    FINISH_UNDER_LOCK_STATEMENT.values(stepEndValues(input)),
  );
  const [[lockedRow], [row]] = await Promise.all([locked, finished]);
  const flow = fromJsonRow(flows, lockedRow?.flow);
  const done = fromJsonRow(stepResults, row?.done);
  if (!row || !done || !flow) return undefined;
  const rows = fromJsonRows(stepResults, row.rows).map((r) => (r.id === done.id ? done : r));
  return { flow, rows };
}

/**
 * Writes the attempt's end (see `STEP_END_CTES`) as one statement of its own, without the
 * flow's row lock: parallel steps of one run end side by side. Returns the instance as
 * written; undefined when the lease was lost (nothing was written). Whoever ends a step this way must then check
 * whether the run has to advance (its plan reads what committed meanwhile).
 */
export async function endStepWrites(db: Executor, input: FinishStepInput): Promise<StepResultRow | undefined> {
  const [row] = await sendStatement<{ done: Record<string, unknown> | null }>(
    db,
    END_STEP_ALONE_STATEMENT.text,
    END_STEP_ALONE_STATEMENT.values(stepEndValues(input)),
  );
  return fromJsonRow(stepResults, row?.done);
}

const LOCK_FLOW_STATEMENT = `select row_to_json(f) as flow from flows f where f.id = $1 for update`;

const STEP_END_PARAMS = [
  "flowId",
  "run",
  "stepResultId",
  "leaseToken",
  "status",
  "output",
  "provider",
  "model",
  "usage",
  "cost",
  "error",
  "messageId",
  "ledgerId",
  "attempt",
  "promptTokens",
  "completionTokens",
  "cachedTokens",
  "cacheWriteTokens",
  "cacheWrite1hTokens",
  "reasoningTokens",
  "spentTokens",
  "spentCost",
  "billed",
  "leasedRunningSeconds",
] as const;

function stepEndValues(input: FinishStepInput): Record<(typeof STEP_END_PARAMS)[number], unknown> {
  const usage = input.usage;
  return {
    flowId: input.flowId,
    run: input.run,
    stepResultId: input.id,
    leaseToken: input.leaseToken,
    status: input.status,
    output: input.output,
    provider: input.provider,
    model: input.model,
    usage: usage ? JSON.stringify(usage) : null,
    cost: input.cost,
    error: input.error ? JSON.stringify(input.error) : null,
    messageId: newId(),
    ledgerId: newId(),
    attempt: input.attempt,
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    cachedTokens: usage?.cachedTokens ?? 0,
    cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
    cacheWrite1hTokens: usage?.cacheWrite1hTokens ?? 0,
    reasoningTokens: usage?.reasoningTokens ?? 0,
    // Only a billed attempt (usage known) counts toward the run's spend.
    spentTokens: usage ? usage.totalTokens : 0,
    spentCost: usage ? (input.cost ?? 0) : 0,
    billed: usage !== null,
    leasedRunningSeconds: input.leasedRunningMs === undefined ? null : input.leasedRunningMs / 1000,
  };
}

/**
 * An attempt's end, as CTEs: its outcome, fenced by its lease token, with its spend added to
 * the instance's; its ledger row when it was billed (usage known); its thread message when
 * the run saves messages. Each is written at most once: the fenced update succeeds once per
 * lease, and the ledger and message rows are unique per attempt and per instance.
 * `leasedRunningSeconds`: how long a leased instance has been running (its start is then
 * when the worker took it up, not when it was leased).
 */
const STEP_END_CTES = (p: Readonly<Record<(typeof STEP_END_PARAMS)[number], string>>): string => `
  flow as (select * from flows where id = ${p.flowId}),
  done as (
    update step_results set
      status = ${p.status},
      output = ${p.output},
      provider = ${p.provider},
      model = ${p.model},
      usage = ${p.usage}::jsonb,
      cost = ${p.cost},
      spent_tokens = spent_tokens + ${p.spentTokens}::bigint,
      spent_cost = spent_cost + ${p.spentCost}::float8,
      error = ${p.error}::jsonb,
      message_id = case when ${p.status} = 'success' and (select save_messages from flow) then ${p.messageId} end,
      lease_expires_at = null,
      started_at = coalesce(clock_timestamp() - make_interval(secs => ${p.leasedRunningSeconds}::float8), started_at),
      completed_at = clock_timestamp()
    where id = ${p.stepResultId} and flow_id = ${p.flowId} and run = ${p.run}
      and lease_token = ${p.leaseToken} and status = 'running'
    returning *
  ),
  ledger as (
    insert into usage_ledger (id, step_result_id, attempt, flow_id, user_id, provider, model, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost, cache_write_tokens, cache_write_1h_tokens)
    select ${p.ledgerId}, done.id, ${p.attempt}, done.flow_id, (select coalesce(executed_by, user_id) from flow), done.provider, done.model,
           ${p.promptTokens}, ${p.completionTokens}, ${p.cachedTokens}, ${p.reasoningTokens}, ${p.cost}, ${p.cacheWriteTokens}, ${p.cacheWrite1hTokens}
    from done where ${p.billed}
    on conflict (step_result_id, attempt) do nothing
  ),
  message as (
    insert into messages (id, thread_id, role, content, provider, metadata, step_result_id)
    select ${p.messageId}, f.thread_id, 'assistant', done.output, done.provider,
           jsonb_build_object('orchestrationFlowId', done.flow_id, 'stepId', done.step_id, 'iteration', done.iteration, 'model', done.model),
           done.id
    from done, flow f where done.message_id is not null
    on conflict (step_result_id) do nothing
  )`;

/** The end under the flow's lock (held by the caller), which also reads the run's instances. */
const FINISH_UNDER_LOCK_STATEMENT = namedStatement(
  STEP_END_PARAMS,
  (p) => `
  with ${STEP_END_CTES(p)}
  select
    (select row_to_json(d) from done d) as done,
    (select coalesce(json_agg(s), '[]'::json) from step_results s where s.flow_id = ${p.flowId} and s.run = ${p.run}) as rows
`,
);

/** The end alone: no flow row is written or locked. */
const END_STEP_ALONE_STATEMENT = namedStatement(
  STEP_END_PARAMS,
  (p) => `
  with ${STEP_END_CTES(p)}
  select (select row_to_json(d) from done d) as done
`,
);

/** SQL for the sum of one spend column over a run's instances. */
function runSpendSql(flowId: string, run: string, column: "spent_tokens" | "spent_cost"): string {
  return `coalesce((select sum(s.${column}) from step_results s where s.flow_id = ${flowId} and s.run = ${run}), 0)`;
}

export interface RunState {
  flow: FlowRow;
  /** The run's instances, by iteration then step index. */
  rows: StepResultRow[];
}

/** A run's state read under its flow's row lock (held until the transaction ends). */
export type LockedRun = RunState;

/**
 * Locks a flow and reads one run's instances, in one round trip (inside the caller's
 * transaction; the read runs once the lock is held, so it sees every committed step).
 * Undefined when there is no such flow.
 */
export async function lockRun(tx: Executor, flowId: string, run: number): Promise<LockedRun | undefined> {
  const locked = sendStatement<{ flow: Record<string, unknown> }>(tx, LOCK_FLOW_STATEMENT, [flowId]);
  const read = sendStatement<{ rows: Record<string, unknown>[] }>(tx, RUN_ROWS_STATEMENT, [flowId, run]);
  const [[lockedRow], [row]] = await Promise.all([locked, read]);
  const flow = fromJsonRow(flows, lockedRow?.flow);
  if (!flow) return undefined;
  return { flow, rows: fromJsonRows(stepResults, row?.rows) };
}

/** A run: its flow and its instances. */
export interface RunKey {
  flowId: string;
  run: number;
}

/**
 * Several runs as they are committed now, without a lock, in one statement: each flow with
 * that run's instances, in the order asked (undefined for a flow that does not exist). What
 * steps that ended alone plan from, to see whether their runs must advance.
 */
export async function readRuns(db: Executor, runs: readonly RunKey[]): Promise<(RunState | undefined)[]> {
  if (runs.length === 0) return [];
  const read = await sendStatement<{ flow: Record<string, unknown> | null; rows: Record<string, unknown>[] }>(
    db,
    READ_RUNS_STATEMENT,
    [JSON.stringify(runs)],
  );
  return read.map((row) => {
    const flow = fromJsonRow(flows, row.flow);
    return flow ? { flow, rows: fromJsonRows(stepResults, row.rows) } : undefined;
  });
}

const READ_RUNS_STATEMENT = `select
    (select row_to_json(f) from flows f where f.id = k."flowId") as flow,
    (select coalesce(json_agg(s order by s.iteration, s.step_index), '[]'::json)
       from step_results s where s.flow_id = k."flowId" and s.run = k.run) as rows
  from rows from (jsonb_to_recordset($1::jsonb) as ("flowId" text, run int)) with ordinality as k("flowId", run, n)
  order by k.n`;

/**
 * Claims the advance of a run from one state of it (`stateKey`, e.g. a hash of
 * `runSignature`), in one short statement of its own: true for the first claim of that
 * state, false when the run already was claimed from it (or is no longer this run, running).
 * Of steps that ended alone and read the same state, one advances the run; the others
 * know that whoever claimed it plans, under the lock, from that state or a later one.
 */
export async function claimRunAdvance(db: Executor, flowId: string, run: number, stateKey: string): Promise<boolean> {
  const rows = await sendStatement(
    db,
    CLAIM_ADVANCE_STATEMENT.text,
    CLAIM_ADVANCE_STATEMENT.values({ flowId, run, stateKey }),
  );
  return rows.length === 1;
}

const CLAIM_ADVANCE_STATEMENT = namedStatement(
  ["flowId", "run", "stateKey"],
  (p) => `update flows set advance_claim = ${p.stateKey}
    where id = ${p.flowId} and run = ${p.run} and status = 'running' and advance_claim is distinct from ${p.stateKey}
    returning id`,
);

const RUN_ROWS_STATEMENT = `select coalesce(json_agg(s order by s.iteration, s.step_index), '[]'::json) as rows from step_results s where s.flow_id = $1 and s.run = $2`;

/** A step instance the planner records (dispatched, skipped, failed or cancelled). */
export interface PlannedStep {
  stepId: string;
  stepIndex: number;
  iteration: number;
  status: StepResultRow["status"];
  provider: string;
  model: string;
  action: StepResultRow["action"];
  completedAt?: Date | null;
  error?: StepResultRow["error"];
  /**
   * Inserted already claimed (`running`, lease token 1) by this owner: the worker that
   * planned it runs it next, with no job and no claim of its own (see finish-step.ts).
   */
  lease?: { owner: string; leaseMs: number };
  /** An approval step inserted `waiting`: the prompt its approver sees and when its timeout decides it. */
  wait?: { prompt: string; expiresAt: Date };
}

/** Changes to the flow row that travel with the planned steps. */
export interface FlowProgress {
  status?: string;
  startedAt?: Date;
  currentStepIndex?: number;
}

/**
 * Sends, without waiting, the writes of one planning round as one statement: the new step
 * instances (one already recorded is left as it is: redeliveries insert nothing) and the
 * flow's progress. Resolves once written; inside `transact`, hand the promise to
 * `commitAfter` so COMMIT travels in the same write.
 */
export function sendPlannedSteps(
  tx: Executor,
  flowId: string,
  run: number,
  steps: readonly PlannedStep[],
  progress: FlowProgress = {},
): Promise<unknown> {
  const { params, writes } = planWrites(flowId, run, steps, progress);
  if (writes.length === 0) return Promise.resolve();
  if (writes.length === 1) return sendStatement(tx, writes[0] as string, params);
  return sendStatement(tx, `with ${writes.map((w, i) => `w${i} as (${w})`).join(", ")} select 1`, params);
}

/** What a planning round was computed from, checked when its writes are applied. */
export interface PlanBasis {
  /** The instance whose attempt was just finished in this transaction, with this lease token and status. */
  stepResultId: string;
  leaseToken: number;
  status: string;
  /** The run's instances as the plan saw them (see `runSignature`); their spend changes only with their status. */
  signature: string;
}

/** The run's instances as `id:status:attempt`, in id order: what planning depends on changes one of them. */
export function runSignature(rows: readonly { id: string; status: string; attempt: number }[]): string {
  return rows
    .map((r) => `${r.id}:${r.status}:${r.attempt}`)
    .sort()
    .join(",");
}

/** What a guarded plan wrote that its sender needs next: the instance it leased, with what running it needs. */
export interface GuardedPlanResult {
  /** The instance inserted with a lease (`PlannedStep.lease`), as written. */
  leased?: StepResultRow;
  /** Every instance the plan inserted, as written (only with a leased instance). */
  inserted: StepResultRow[];
  /** The data-sharing policies of the thread's owner and the run's executor, read in the same statement (only with a leased instance). */
  policies: PolicyRow[];
}

/** SQLSTATE of the error `sendGuardedPlan` fails with when its basis is stale (raised by `ensemble_stale_plan()`, see the migrations). */
export const STALE_PLAN_SQLSTATE = "EN001";

/**
 * `sendPlannedSteps` for a plan made before the flow was locked (from the state the step
 * was claimed in): in the same statement, checks that the run is what the plan saw — the
 * flow running this run, this attempt finished by this lease, no
 * other instance changed — and fails otherwise (SQLSTATE `STALE_PLAN_SQLSTATE`), which
 * rolls the whole transaction back so the caller can plan again under the lock.
 */
export async function sendGuardedPlan(
  tx: Executor,
  flowId: string,
  run: number,
  basis: PlanBasis,
  steps: readonly PlannedStep[],
  progress: FlowProgress = {},
): Promise<GuardedPlanResult> {
  const { params, writes, param } = planWrites(flowId, run, steps, progress);
  const flow = param(flowId);
  const theRun = param(run);
  const guard = `select
      coalesce((select f.status = 'running' and f.run = ${theRun} from flows f where f.id = ${flow}), false)
      and exists (select 1 from step_results d where d.id = ${param(basis.stepResultId)} and d.lease_token = ${param(basis.leaseToken)} and d.status = ${param(basis.status)})
      and coalesce((select string_agg(s.id || ':' || s.status || ':' || s.attempt, ',' order by s.id collate "C") from step_results s where s.flow_id = ${flow} and s.run = ${theRun}), '') = ${param(basis.signature)}
      as ok`;
  // Writes in CTEs run whatever the outcome; ensemble_stale_plan() raising makes the statement (and the transaction) fail instead.
  const ctes = [`guard as (${guard})`, ...writes.map((w, i) => `w${i} as (${w})`)];
  // The insert is the first write (w0); a leased instance comes back with the policies that apply to it.
  const leasing = steps.some((s) => s.lease);
  const returned = leasing
    ? `, (select coalesce(json_agg(i), '[]'::json) from w0 i) as inserted,
       ${runPoliciesSql(flow)} as policies`
    : "";
  const [row] = await sendStatement<{ inserted?: Record<string, unknown>[]; policies?: Record<string, unknown>[] }>(
    tx,
    `with ${ctes.join(", ")} select case when ok then 1 else ensemble_stale_plan() end as applied${returned} from guard`,
    params,
  );
  const inserted = fromJsonRows(stepResults, row?.inserted);
  const leased = inserted.find((r) => r.leaseOwner !== null && r.status === "running");
  return { ...(leased ? { leased } : {}), inserted, policies: fromJsonRows(dataSharingPolicies, row?.policies) };
}

function planWrites(
  flowId: string,
  run: number,
  steps: readonly PlannedStep[],
  progress: FlowProgress,
): { params: unknown[]; writes: string[]; param: (value: unknown) => string } {
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const writes: string[] = [];
  if (steps.length > 0) {
    const rows = steps.map(
      (s) =>
        `(${[newId(), flowId, run, s.stepId, s.stepIndex, s.iteration, s.lease ? "running" : s.status, s.provider, s.model, s.action].map(param).join(", ")}, ` +
        `${param(s.completedAt ? s.completedAt.toISOString() : null)}::timestamptz, ${param(s.error ? JSON.stringify(s.error) : null)}::jsonb, ` +
        `${param(s.wait?.prompt ?? null)}, ${param(s.wait ? s.wait.expiresAt.toISOString() : null)}::timestamptz, ` +
        (s.lease
          ? `1, ${param(s.lease.owner)}, clock_timestamp() + make_interval(secs => ${param(s.lease.leaseMs / 1000)}), clock_timestamp())`
          : "0, null, null, null)"),
    );
    writes.push(`insert into step_results (id, flow_id, run, step_id, step_index, iteration, status, provider, model, action, completed_at, error,
           approval_prompt, expires_at, lease_token, lease_owner, lease_expires_at, started_at)
         values ${rows.join(", ")}
         on conflict (flow_id, run, step_id, iteration) do nothing${steps.some((s) => s.lease) ? " returning *" : ""}`);
  }
  const sets: string[] = [];
  if (progress.status !== undefined) sets.push(`status = ${param(progress.status)}`);
  if (progress.startedAt !== undefined)
    sets.push(`started_at = ${param(progress.startedAt.toISOString())}::timestamptz`);
  if (progress.currentStepIndex !== undefined) sets.push(`current_step_index = ${param(progress.currentStepIndex)}`);
  if (sets.length > 0) writes.push(`update flows set ${sets.join(", ")} where id = ${param(flowId)}`);
  return { params, writes, param };
}

/** How a run ended: what the flow row records. */
export interface RunEnd {
  status: string;
  /** Set when the run also started in this transaction. */
  startedAt?: Date;
  completedAt: Date;
  error: FlowRow["error"];
  currentStepIndex: number;
  result: Record<string, unknown>;
}

/**
 * Sends, without waiting, the end of a run to the flow row, with its final totals (the sum of
 * its instances' spend). Inside `transact`, hand the
 * promise to `commitAfter` so COMMIT travels in the same write.
 */
export function sendRunEnded(tx: Executor, flowId: string, end: RunEnd): Promise<unknown> {
  return sendStatement(
    tx,
    `update flows set status = $2, started_at = coalesce($3::timestamptz, started_at), completed_at = $4::timestamptz,
       error = $5::jsonb, current_step_index = $6, result = $7::jsonb,
       total_tokens = ${runSpendSql("flows.id", "flows.run", "spent_tokens")},
       total_cost = ${runSpendSql("flows.id", "flows.run", "spent_cost")}
     where id = $1`,
    [
      flowId,
      end.status,
      end.startedAt ? end.startedAt.toISOString() : null,
      end.completedAt.toISOString(),
      end.error ? JSON.stringify(end.error) : null,
      end.currentStepIndex,
      JSON.stringify(end.result),
    ],
  );
}
