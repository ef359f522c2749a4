import type { JobName, JobPayload } from "./job-catalog.js";

export interface JobIdOptions {
  /**
   * Distinguishes jobs that may legitimately repeat (`flow.advance`, `flow.sweep`). Pass
   * something that names the cause, e.g. the step result that triggered an advance, so a
   * redelivered trigger does not advance twice. Default: the current time in ms.
   */
  dedupe?: string;
}

// BullMQ rejects custom ids containing ":" (and all-digit ids), so parts are joined with
// "_". Free-form parts are escaped (anything outside [A-Za-z0-9.-] becomes ~XX per UTF-8
// byte), which keeps ids injective: only the step id may keep its underscores, and it is
// the single variable-width part between fixed-count parts.
const SEPARATOR = "_";

function escapePart(value: string | number, allowUnderscore = false): string {
  const text = String(value);
  const unsafe = allowUnderscore ? /[^A-Za-z0-9._-]/g : /[^A-Za-z0-9.-]/g;
  return text.replace(unsafe, (char) =>
    Array.from(Buffer.from(char, "utf8"), (byte) => `~${byte.toString(16).padStart(2, "0")}`).join(""),
  );
}

function join(...parts: string[]): string {
  return parts.join(SEPARATOR);
}

const defaultDedupe = (): string => String(Date.now());

// A mapped type, so adding a job to the catalog without an id rule fails type-checking.
const JOB_ID_BUILDERS: { [N in JobName]: (payload: JobPayload<N>, dedupe: string | undefined) => string } = {
  // The sweeper's re-send of a run still queued passes `dedupe`: the first start job may be
  // kept as done (a start of a run that was taken back) or lost, and must not block it.
  "flow.start": (p, dedupe) =>
    dedupe === undefined
      ? join("start", escapePart(p.flowId), escapePart(p.run))
      : join("start", escapePart(p.flowId), escapePart(p.run), escapePart(dedupe)),
  "flow.advance": (p, dedupe) =>
    join("advance", escapePart(p.flowId), escapePart(p.run), escapePart(dedupe ?? defaultDedupe())),
  "flow.cancel": (p) => join("cancel", escapePart(p.flowId), escapePart(p.run)),
  // One per approval step instance: the delayed job and the sweeper's re-send are the same job.
  // The sweeper's re-send passes `dedupe` (a kept failed job must not block it).
  "flow.approval-timeout": (p, dedupe) =>
    join(
      "approval-timeout",
      escapePart(p.flowId),
      escapePart(p.run),
      escapePart(p.iteration),
      ...(dedupe === undefined ? [] : [escapePart(dedupe)]),
      escapePart(p.stepId, true),
    ),
  // One archive per run: the caller passes the run as `dedupe`.
  "flow.archive-events": (p, dedupe) =>
    dedupe === undefined
      ? join("archive", escapePart(p.flowId))
      : join("archive", escapePart(p.flowId), escapePart(dedupe)),
  "flow.sweep": (_p, dedupe) => join("sweep", escapePart(dedupe ?? defaultDedupe())),
  "flow.archive-due": (_p, dedupe) => join("archive-due", escapePart(dedupe ?? defaultDedupe())),
  // Fired by a job scheduler, which names its own jobs by firing time; idempotence is the firing's claim in Postgres.
  "flow.schedule-fire": (p, dedupe) =>
    join("schedule-fire", escapePart(p.scheduleId), escapePart(dedupe ?? defaultDedupe())),
  // A batch step's synchronous fallback is the same attempt as the job that batched it
  // (kept as done): it ends in "sync", which no attempt number is.
  "step.run": (p) =>
    join(
      "step",
      escapePart(p.flowId),
      escapePart(p.run),
      escapePart(p.stepId, true),
      escapePart(p.iteration),
      escapePart(p.attempt),
      ...(p.batchFallback ? ["sync"] : []),
    ),
  // One submit per batch (a redelivery or the sweep's re-send passes `dedupe`); polls repeat, named by the sweep period.
  "batch.submit": (p, dedupe) =>
    join("batch-submit", escapePart(p.batchId), ...(dedupe === undefined ? [] : [escapePart(dedupe)])),
  "batch.poll": (p, dedupe) => join("batch-poll", escapePart(p.batchId), escapePart(dedupe ?? defaultDedupe())),
};

/**
 * The deterministic BullMQ job id of a logical job: adding a job whose id already exists
 * (waiting, delayed, active, or kept after finishing) is a no-op, so enqueueing is idempotent.
 * Ids never contain ":". Examples: `start_<flowId>_<run>`, `step_<flowId>_<run>_<stepId>_<iteration>_<attempt>`.
 *
 * The guard lasts only while BullMQ keeps the job (see the catalog's removeOnComplete: at
 * most 10,000 completed jobs, which under load may be seconds), so handlers must still be
 * idempotent against Postgres.
 */
export function jobIdFor<N extends JobName>(name: N, payload: JobPayload<N>, options: JobIdOptions = {}): string {
  const build = JOB_ID_BUILDERS[name] as (payload: JobPayload<N>, dedupe: string | undefined) => string;
  return build(payload, options.dedupe);
}
