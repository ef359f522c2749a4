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
 * COMMIT in the next; or many runs' ends with their plans in one transaction
 * (`sendPlannedEnds`). They are what a step costs beyond its provider call (see docs/performance.md).
 * Every end's writes are `STEP_END_CTES`, over a relation of ends given as one JSON parameter.
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
    FINISH_UNDER_LOCK_STATEMENT,
    [oneEnd(input)],
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
  const [row] = await sendStatement<{ done: Record<string, unknown> | null }>(db, END_STEP_ALONE_STATEMENT, [
    oneEnd(input),
  ]);
  return fromJsonRow(stepResults, row?.done);
}

const LOCK_FLOW_STATEMENT = `select row_to_json(f) as flow from flows f where f.id = $1 for update`;

/**
 * One step end as the statements read it: a row of the relation `ends`, built from JSON (one
 * end with `jsonb_to_record`, a batch with `jsonb_to_recordset`), so a statement takes its
 * ends as one parameter. `n` numbers the ends of a batch.
 */
const STEP_END_COLUMNS = `n int, step_result_id text, flow_id text, run int, lease_token int, attempt int,
  status text, output text, provider text, model text, usage jsonb, cost float8, error jsonb,
  message_id text, ledger_id text, prompt_tokens int, completion_tokens int, cached_tokens int,
  cache_write_tokens int, cache_write_1h_tokens int, reasoning_tokens int,
  spent_tokens bigint, spent_cost float8, billed boolean, leased_running_seconds float8`;

/** An end's row of `ends` (keys as in STEP_END_COLUMNS). */
function stepEndRow(input: FinishStepInput, n: number): Record<string, unknown> {
  const usage = input.usage;
  return {
    n,
    step_result_id: input.id,
    flow_id: input.flowId,
    run: input.run,
    lease_token: input.leaseToken,
    attempt: input.attempt,
    status: input.status,
    output: input.output,
    provider: input.provider,
    model: input.model,
    usage,
    cost: input.cost,
    error: input.error,
    message_id: newId(),
    ledger_id: newId(),
    prompt_tokens: usage?.promptTokens ?? 0,
    completion_tokens: usage?.completionTokens ?? 0,
    cached_tokens: usage?.cachedTokens ?? 0,
    cache_write_tokens: usage?.cacheWriteTokens ?? 0,
    cache_write_1h_tokens: usage?.cacheWrite1hTokens ?? 0,
    reasoning_tokens: usage?.reasoningTokens ?? 0,
    // Only a billed attempt (usage known) counts toward the run's spend.
    spent_tokens: usage ? usage.totalTokens : 0,
    spent_cost: usage ? (input.cost ?? 0) : 0,
    billed: usage !== null,
    leased_running_seconds: input.leasedRunningMs === undefined ? null : input.leasedRunningMs / 1000,
  };
}

/** The parameter of a statement that writes one end: one object, not an array. */
function oneEnd(input: FinishStepInput): string {
  return JSON.stringify(stepEndRow(input, 0));
}

/**
 * `ends` of a statement whose first parameter is one end (see `oneEnd`). `jsonb_to_record`,
 * not `jsonb_to_recordset`: the planner takes a set-returning function for 100 rows, and
 * for 100 ends it joined `flows` by a hash over a full scan of the table — per end, so an
 * end cost more the more flows were stored (2.6–4 ms per end with ~11,000 flows). One row
 * is one index lookup per table.
 */
const ONE_END_CTE = `ends as (select * from jsonb_to_record($1::jsonb) as e(${STEP_END_COLUMNS}))`;

/**
 * The ends in the relation `ends`, as CTEs: each attempt's outcome, fenced by its lease
 * token, with its spend added to the instance's (`done`: the instances written); its ledger
 * row when it was billed (usage known); its thread message when the run saves messages.
 * Each is written at most once: the fenced update succeeds once per lease, and the ledger
 * and message rows are unique per attempt and per instance. The flow is read per end by
 * its key (scalar subqueries), never joined: for a relation from JSON the planner guesses
 * 100 rows and would hash-join flows over a full scan. `leased_running_seconds`: how
 * long a leased instance has been running (its start is then when the worker took it up,
 * not when it was leased).
 */
const STEP_END_CTES = `
  done as (
    update step_results s set
      status = e.status,
      output = e.output,
      provider = e.provider,
      model = e.model,
      usage = e.usage,
      cost = e.cost,
      spent_tokens = s.spent_tokens + e.spent_tokens,
      spent_cost = s.spent_cost + e.spent_cost,
      error = e.error,
      message_id = case when e.status = 'success' and (select f.save_messages from flows f where f.id = e.flow_id)
        then e.message_id end,
      lease_expires_at = null,
      started_at = coalesce(clock_timestamp() - make_interval(secs => e.leased_running_seconds), s.started_at),
      completed_at = clock_timestamp()
    from ends e
    where s.id = e.step_result_id and s.flow_id = e.flow_id and s.run = e.run
      and s.lease_token = e.lease_token and s.status = 'running'
    returning s.*
  ),
  ledger as (
    insert into usage_ledger (id, step_result_id, attempt, flow_id, user_id, provider, model, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost, cache_write_tokens, cache_write_1h_tokens)
    select e.ledger_id, d.id, e.attempt, d.flow_id,
           (select coalesce(f.executed_by, f.user_id) from flows f where f.id = d.flow_id), d.provider, d.model,
           e.prompt_tokens, e.completion_tokens, e.cached_tokens, e.reasoning_tokens, e.cost, e.cache_write_tokens, e.cache_write_1h_tokens
    from done d join ends e on e.step_result_id = d.id
    where e.billed
    on conflict (step_result_id, attempt) do nothing
  ),
  message as (
    insert into messages (id, thread_id, role, content, provider, metadata, step_result_id)
    select d.message_id, (select f.thread_id from flows f where f.id = d.flow_id), 'assistant', d.output, d.provider,
           jsonb_build_object('orchestrationFlowId', d.flow_id, 'stepId', d.step_id, 'iteration', d.iteration, 'model', d.model),
           d.id
    from done d
    where d.message_id is not null
    on conflict (step_result_id) do nothing
  )`;

/** The end under the flow's lock (held by the caller), which also reads the run's instances. */
const FINISH_UNDER_LOCK_STATEMENT = `
  with ${ONE_END_CTE}, ${STEP_END_CTES}
  select
    (select row_to_json(d) from done d) as done,
    (select coalesce(json_agg(s), '[]'::json) from step_results s, ends e where s.flow_id = e.flow_id and s.run = e.run) as rows
`;

/** The end alone: no flow row is written or locked. */
const END_STEP_ALONE_STATEMENT = `
  with ${ONE_END_CTE}, ${STEP_END_CTES}
  select (select row_to_json(d) from done d) as done
`;

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

/** SQL for a run's `runSignature`, as committed. */
function runSignatureSql(flowId: string, run: string): string {
  return `coalesce((select string_agg(s.id || ':' || s.status || ':' || s.attempt, ',' order by s.id collate "C")
    from step_results s where s.flow_id = ${flowId} and s.run = ${run}), '')`;
}

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
      and ${runSignatureSql(flow, theRun)} = ${param(basis.signature)}
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
  return guardedPlanResult(row?.inserted, row?.policies);
}

function guardedPlanResult(
  inserted: Record<string, unknown>[] | null | undefined,
  policies: Record<string, unknown>[] | null | undefined,
): GuardedPlanResult {
  const rows = fromJsonRows(stepResults, inserted);
  const leased = rows.find((r) => r.leaseOwner !== null && r.status === "running");
  return { ...(leased ? { leased } : {}), inserted: rows, policies: fromJsonRows(dataSharingPolicies, policies) };
}

/** A planned step as a row of `planned` (keys as in PLANNED_STEP_COLUMNS); `n` is its end's in a batch. */
function plannedStepRow(flowId: string, run: number, s: PlannedStep, n: number): Record<string, unknown> {
  return {
    n,
    id: newId(),
    flow_id: flowId,
    run,
    step_id: s.stepId,
    step_index: s.stepIndex,
    iteration: s.iteration,
    status: s.lease ? "running" : s.status,
    provider: s.provider,
    model: s.model,
    action: s.action,
    completed_at: s.completedAt ? s.completedAt.toISOString() : null,
    error: s.error ?? null,
    approval_prompt: s.wait?.prompt ?? null,
    expires_at: s.wait ? s.wait.expiresAt.toISOString() : null,
    lease_token: s.lease ? 1 : 0,
    lease_owner: s.lease?.owner ?? null,
    lease_seconds: s.lease ? s.lease.leaseMs / 1000 : null,
  };
}

const PLANNED_STEP_COLUMNS = `n int, id text, flow_id text, run int, step_id text, step_index int, iteration int,
  status text, provider text, model text, action text, completed_at timestamptz, error jsonb,
  approval_prompt text, expires_at timestamptz, lease_token int, lease_owner text, lease_seconds float8`;

/**
 * Inserts the planned steps of relation `planned` (one already recorded is left as it is:
 * redeliveries insert nothing). A leased one (`lease_owner`) starts now, its lease running
 * from now.
 */
const INSERT_PLANNED_STEPS = `insert into step_results (id, flow_id, run, step_id, step_index, iteration, status, provider, model, action,
    completed_at, error, approval_prompt, expires_at, lease_token, lease_owner, lease_expires_at, started_at)
  select p.id, p.flow_id, p.run, p.step_id, p.step_index, p.iteration, p.status, p.provider, p.model, p.action,
    p.completed_at, p.error, p.approval_prompt, p.expires_at, p.lease_token, p.lease_owner,
    clock_timestamp() + make_interval(secs => p.lease_seconds), case when p.lease_owner is not null then clock_timestamp() end
  from planned p
  on conflict (flow_id, run, step_id, iteration) do nothing`;

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
    const rows = JSON.stringify(steps.map((s) => plannedStepRow(flowId, run, s, 0)));
    writes.push(
      `with planned as (select * from jsonb_to_recordset(${param(rows)}::jsonb) as p(${PLANNED_STEP_COLUMNS}))
       ${INSERT_PLANNED_STEPS}${steps.some((s) => s.lease) ? " returning *" : ""}`,
    );
  }
  const sets: string[] = [];
  if (progress.status !== undefined) sets.push(`status = ${param(progress.status)}`);
  if (progress.startedAt !== undefined)
    sets.push(`started_at = ${param(progress.startedAt.toISOString())}::timestamptz`);
  if (progress.currentStepIndex !== undefined) sets.push(`current_step_index = ${param(progress.currentStepIndex)}`);
  if (sets.length > 0) writes.push(`update flows set ${sets.join(", ")} where id = ${param(flowId)}`);
  return { params, writes, param };
}

/**
 * A step's end with the plan that follows it, made from the state the step was claimed in
 * (one item of `sendPlannedEnds`).
 */
export interface PlannedEnd {
  end: FinishStepInput;
  /** `runSignature` of the run as the plan saw it before this end (the instance still running). */
  seenSignature: string;
  steps: readonly PlannedStep[];
  progress: FlowProgress;
  /**
   * The plan ends the run: the flow row records it, not `progress`. The run's end time is its
   * last end's, as written; its totals and the times of `result.steps` are read in the
   * statement (the plan knows none of them exactly).
   */
  runEnd?: RunEnd;
}

/** What `sendPlannedEnds` did for one end: written with its plan, or nothing (see there). */
export type PlannedEndResult = ({ written: true; done: StepResultRow } & GuardedPlanResult) | { written: false };

/**
 * Sends, without waiting, the ends of several runs' steps with their plans, as one
 * statement after one lock statement (inside the caller's transaction; hand the promise to
 * `commitAfter`). At most one end per run. The flows are locked first, in id order, so
 * two batches never wait on each other crosswise and each end's check reads what committed
 * before; then each end is written with its plan only where the run is still what its plan
 * saw (the flow running the same run, the same instances, this attempt's lease unchanged):
 * a conditional, set-based write, so one stale plan writes nothing of its own and does not
 * fail the others. A plan that ends the run (`runEnd`) records the end on the flow row in
 * the same statement. One result per end, in order; `written: false` for a stale plan or a
 * lost lease (its caller plans again under the lock).
 */
export function sendPlannedEnds(tx: Executor, batch: readonly PlannedEnd[]): Promise<PlannedEndResult[]> {
  const flowIds = [...new Set(batch.map((b) => b.end.flowId))];
  const locked = sendStatement(tx, LOCK_FLOWS_STATEMENT, [JSON.stringify(flowIds)]);
  const items = batch.map((b, n) => ({
    ...stepEndRow(b.end, n),
    seen_signature: b.seenSignature,
    leasing: b.steps.some((s) => s.lease),
    progress_status: b.progress.status ?? null,
    progress_started_at: b.progress.startedAt?.toISOString() ?? null,
    progress_step_index: b.progress.currentStepIndex ?? null,
    end_status: b.runEnd?.status ?? null,
    end_error: b.runEnd?.error ?? null,
    end_step_index: b.runEnd?.currentStepIndex ?? null,
    end_result: b.runEnd?.result ?? null,
  }));
  const planned = batch.flatMap((b, n) => b.steps.map((s) => plannedStepRow(b.end.flowId, b.end.run, s, n)));
  const written = sendStatement<{
    done: Record<string, unknown> | null;
    inserted: Record<string, unknown>[] | null;
    policies: Record<string, unknown>[] | null;
  }>(tx, PLANNED_ENDS_STATEMENT, [JSON.stringify(items), JSON.stringify(planned)]);
  return Promise.all([locked, written]).then(([, rows]) =>
    rows.map((row) => {
      const done = fromJsonRow(stepResults, row.done);
      return done ? { written: true, done, ...guardedPlanResult(row.inserted, row.policies) } : { written: false };
    }),
  );
}

// `= any(array(…))`, not `in (select …)`: the planner takes a set-returning function for 100
// rows and semi-joined flows over a full scan (1.3 ms a batch with 3,000 flows stored, growing
// with the table); an array is looked up in the primary key.
const LOCK_FLOWS_STATEMENT = `select 1 from flows
  where id = any(array(select jsonb_array_elements_text($1::jsonb))) order by id for update`;

/** SQL for a timestamptz as JSON the way `Date.toISOString` writes it (null stays null). */
function isoJsonSql(column: string): string {
  return `coalesce(to_jsonb(to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), 'null'::jsonb)`;
}

/** See `sendPlannedEnds`: $1 the ends (STEP_END_COLUMNS and what the plan saw), $2 their planned steps. */
const PLANNED_ENDS_STATEMENT = `
  with items as (
    select * from jsonb_to_recordset($1::jsonb) as i(${STEP_END_COLUMNS}, seen_signature text, leasing boolean,
      progress_status text, progress_started_at timestamptz, progress_step_index int,
      end_status text, end_error jsonb, end_step_index int, end_result jsonb)
  ),
  ends as (
    select i.* from items i
    where coalesce((select f.status = 'running' and f.run = i.run from flows f where f.id = i.flow_id), false)
      and ${runSignatureSql("i.flow_id", "i.run")} = i.seen_signature
  ),
  ${STEP_END_CTES},
  planned as (
    select p.* from jsonb_to_recordset($2::jsonb) as p(${PLANNED_STEP_COLUMNS})
    join done d on d.flow_id = p.flow_id and d.run = p.run
  ),
  inserted as (${INSERT_PLANNED_STEPS} returning *),
  progress as (
    update flows f set
      status = coalesce(e.progress_status, f.status),
      started_at = coalesce(e.progress_started_at, f.started_at),
      current_step_index = coalesce(e.progress_step_index, f.current_step_index)
    from ends e join done d on d.id = e.step_result_id
    where f.id = e.flow_id and e.end_status is null
      and (e.progress_status is not null or e.progress_started_at is not null or e.progress_step_index is not null)
  ),
  run_ended as (
    -- The run ends as its last end is written (that end's time). The statement's snapshot
    -- predates done's update: to the run's totals (its cut-off calls' so far) are added its other
    -- instances' spend and this end's, and its result's step times are read from them (a step new in this plan keeps the plan's).
    update flows f set
      status = e.end_status, completed_at = d.completed_at, error = e.end_error,
      current_step_index = e.end_step_index,
      result = jsonb_set(e.end_result, '{steps}', (
        select coalesce(jsonb_agg(case when t.found then x.step || jsonb_build_object(
            'startedAt', ${isoJsonSql("t.started_at")}, 'completedAt', ${isoJsonSql("t.completed_at")})
          else x.step end order by x.n), '[]'::jsonb)
        from jsonb_array_elements(e.end_result->'steps') with ordinality as x(step, n)
        left join lateral (
          select true as found, r.started_at, r.completed_at
          from (select d.step_id, d.iteration, d.started_at, d.completed_at
                union all
                select s.step_id, s.iteration, s.started_at, s.completed_at from step_results s
                where s.flow_id = e.flow_id and s.run = e.run and s.id <> d.id) r
          where r.step_id = x.step->>'stepId' and r.iteration = (x.step->>'iteration')::int
          limit 1) t on true)) || jsonb_build_object('completedAt', ${isoJsonSql("d.completed_at")}),
      total_tokens = f.total_tokens + d.spent_tokens + coalesce((select sum(s.spent_tokens) from step_results s
        where s.flow_id = e.flow_id and s.run = e.run and s.id <> d.id), 0),
      total_cost = f.total_cost + d.spent_cost + coalesce((select sum(s.spent_cost) from step_results s
        where s.flow_id = e.flow_id and s.run = e.run and s.id <> d.id), 0)
    from ends e join done d on d.id = e.step_result_id
    where f.id = e.flow_id and e.end_status is not null
  )
  select
    (select row_to_json(d) from done d where d.id = i.step_result_id) as done,
    case when i.leasing then (select coalesce(json_agg(s), '[]'::json) from inserted s where s.flow_id = i.flow_id and s.run = i.run) end as inserted,
    case when i.leasing then ${runPoliciesSql("i.flow_id")} end as policies
  from items i order by i.n
`;

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
 * Sends, without waiting, the end of a run to the flow row, its instances' spend added to its
 * totals (which hold its cut-off calls'; see flows.total_cost). Inside `transact`, hand the
 * promise to `commitAfter` so COMMIT travels in the same write.
 */
export function sendRunEnded(tx: Executor, flowId: string, end: RunEnd): Promise<unknown> {
  return sendStatement(
    tx,
    `update flows set status = $2, started_at = coalesce($3::timestamptz, started_at), completed_at = $4::timestamptz,
       error = $5::jsonb, current_step_index = $6, result = $7::jsonb,
       total_tokens = total_tokens + ${runSpendSql("flows.id", "flows.run", "spent_tokens")},
       total_cost = total_cost + ${runSpendSql("flows.id", "flows.run", "spent_cost")}
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
