import type { Redis } from "ioredis";
import { DEFAULT_QUEUE_PREFIX } from "./queue-names.js";
import { defineRedisScript, type RedisScript } from "./redis-script.js";
import { callRedis } from "./redis-availability.js";

/** One committed step attempt, as a worker saw it. */
export interface StepSample {
  provider: string;
  model: string;
  status: "success" | "failed";
  /** The StepError code of a failed attempt (`rate_limited`, `timeout`, …). */
  errorCode?: string;
  /** From the claim to the commit of this attempt. */
  durationMs: number;
  promptTokens: number;
  completionTokens: number;
  /** USD; null when the model has no known price. */
  costUsd: number | null;
}

/** Upper bounds (seconds) of the step latency histogram: LLM calls take 0.1 s to minutes. */
export const STEP_LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

/** A run that ended, as the process that committed its end saw it. */
export interface RunSample {
  /** The flow's type: sequential, parallel, … */
  flowType: string;
  /** What the run ended as: completed, failed, cancelled, timed_out. */
  status: string;
  /** From the run's start (its queueing, if it never started) to its end. */
  durationMs: number;
}

/** Upper bounds (seconds) of the run duration histogram: a run is a few calls, up to hours of them. */
export const RUN_DURATION_BUCKETS_SECONDS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** One histogram series as Prometheus wants it: `buckets[i]` counts samples ≤ the i-th bound (cumulative). */
export interface HistogramSeries {
  buckets: number[];
  count: number;
  sumSeconds: number;
}

export interface StepMetricsSnapshot {
  steps: { provider: string; model: string; status: string; count: number }[];
  /** Bounds: STEP_LATENCY_BUCKETS_SECONDS. */
  latency: ({ provider: string; model: string } & HistogramSeries)[];
  /** Runs that ended, by flow type and status; bounds: RUN_DURATION_BUCKETS_SECONDS. */
  runs: ({ flowType: string; status: string } & HistogramSeries)[];
  tokens: { provider: string; model: string; kind: "prompt" | "completion"; count: number }[];
  cost: { provider: string; model: string; usd: number }[];
  errors: { provider: string; code: string; count: number }[];
  /** Flows whose events the database refused when they were archived (see archiveDueFlows). */
  archiveFailures: number;
}

export interface ClusterMetricsOptions {
  /** Any connection; with a fail-fast one, calls fail at once while Redis is down. The caller owns it. */
  connection: Redis;
  /** Key prefix (env `QUEUE_PREFIX`). Default: `ensemble`. */
  prefix?: string;
  /** With a fail-fast connection: how long a call waits for it to (re)connect. Default: 1000 ms. */
  readyTimeoutMs?: number;
}

// Label values come from flow definitions (a model is any string): clamp them so one odd
// definition cannot put a huge string into every scrape.
const MAX_LABEL_CHARS = 100;
const clamp = (value: string): string => (value.length > MAX_LABEL_CHARS ? value.slice(0, MAX_LABEL_CHARS) : value);

const RECORD_STEP_COMMAND = "ensembleRecordStepV1";
// ARGV: field, increment, "i" (HINCRBY) or "f" (HINCRBYFLOAT), repeated.
const RECORD_STEP_SCRIPT = `
for i = 1, #ARGV, 3 do
  if ARGV[i + 2] == "f" then
    redis.call("HINCRBYFLOAT", KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call("HINCRBY", KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1`;

type Field =
  | ["steps", string, string, string]
  | ["latency_le", string, string, string]
  | ["latency_sum", string, string]
  | ["run_le", string, string, string]
  | ["run_sum", string, string]
  | ["tokens", string, string, "prompt" | "completion"]
  | ["cost", string, string]
  | ["errors", string, string]
  | ["archive_failures"];

/**
 * Step and run metrics of the whole cluster, kept in Redis: workers and schedulers run in
 * other processes than the API that serves /metrics, so a counter in one process would see
 * only its own steps and runs.
 *
 * Everything is one hash, `<prefix>:metrics:steps` (one key: a MULTI on it is valid on
 * Redis Cluster too), whose fields are JSON arrays naming the series, e.g.
 * `["steps","sim","echo","success"]`. Counters only grow; a Redis flush resets them, which
 * Prometheus' `rate()` treats as a counter reset.
 */
export class ClusterMetrics {
  readonly key: string;
  private readonly connection: Redis;
  private readonly readyTimeoutMs: number;
  private readonly recordScript: RedisScript;

  constructor(options: ClusterMetricsOptions) {
    this.connection = options.connection;
    this.key = `${options.prefix ?? DEFAULT_QUEUE_PREFIX}:metrics:steps`;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.recordScript = defineRedisScript(this.connection, RECORD_STEP_COMMAND, RECORD_STEP_SCRIPT, 1);
  }

  /**
   * Adds one attempt: one script call (EVALSHA), atomic. On an auto-pipelining connection
   * it shares a write with whatever else the process sends in the same turn (a step's
   * events and next job).
   */
  async recordStep(sample: StepSample): Promise<void> {
    const provider = clamp(sample.provider);
    const model = clamp(sample.model);
    const seconds = Math.max(0, sample.durationMs) / 1_000;
    const increments: [Field, number][] = [
      [["steps", provider, model, sample.status], 1],
      [["latency_le", provider, model, boundOf(STEP_LATENCY_BUCKETS_SECONDS, seconds)], 1],
      [["latency_sum", provider, model], seconds],
    ];
    if (sample.promptTokens > 0)
      increments.push([["tokens", provider, model, "prompt"], Math.round(sample.promptTokens)]);
    if (sample.completionTokens > 0)
      increments.push([["tokens", provider, model, "completion"], Math.round(sample.completionTokens)]);
    if (sample.costUsd !== null && sample.costUsd > 0) increments.push([["cost", provider, model], sample.costUsd]);
    if (sample.status === "failed") increments.push([["errors", provider, clamp(sample.errorCode ?? "unknown")], 1]);
    await this.increment(increments, "recordStep");
  }

  /** Adds one run that ended to the run duration histogram: one script call, like `recordStep`. */
  async recordRun(sample: RunSample): Promise<void> {
    const flowType = clamp(sample.flowType);
    const status = clamp(sample.status);
    const seconds = Math.max(0, sample.durationMs) / 1_000;
    await this.increment(
      [
        [["run_le", flowType, status, boundOf(RUN_DURATION_BUCKETS_SECONDS, seconds)], 1],
        [["run_sum", flowType, status], seconds],
      ],
      "recordRun",
    );
  }

  private async increment(increments: [Field, number][], operation: string): Promise<void> {
    // Integer counters use HINCRBY; seconds and dollars HINCRBYFLOAT.
    const isFloat = (kind: Field[0]): boolean => kind === "latency_sum" || kind === "run_sum" || kind === "cost";
    // One script call per sample: atomic for a scrape, and one command instead of several.
    await this.call(operation, () =>
      this.recordScript(
        this.key,
        ...increments.flatMap(([parts, by]) => [field(parts), by, isFloat(parts[0]) ? "f" : "i"]),
      ),
    );
  }

  /** Counts a flow whose events the database refused to archive. */
  async recordArchiveFailure(): Promise<void> {
    await this.call("recordArchiveFailure", () => this.connection.hincrby(this.key, field(["archive_failures"]), 1));
  }

  /** Everything recorded so far, shaped for rendering. One HGETALL. */
  async snapshot(): Promise<StepMetricsSnapshot> {
    const raw = await this.call("metrics snapshot", () => this.connection.hgetall(this.key));
    return parseSnapshot(raw);
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.connection, this.readyTimeoutMs, operation, fn);
  }
}

function field(parts: Field): string {
  return JSON.stringify(parts);
}

/** The histogram bucket a value is stored in: the first bound it does not exceed, else "+Inf". */
function boundOf(bounds: readonly number[], seconds: number): string {
  const bound = bounds.find((le) => seconds <= le);
  return bound === undefined ? "+Inf" : String(bound);
}

/**
 * Histogram series read back, by the labels they were stored under. Buckets are stored per
 * bound (not cumulative), so a changed bound list still adds up: each stored bound counts
 * toward every current bound at or above it.
 */
class HistogramReader {
  private readonly series = new Map<string, { labels: string[]; byBound: [number, number][]; sumSeconds: number }>();

  private of(labels: string[]) {
    const id = JSON.stringify(labels);
    let entry = this.series.get(id);
    if (!entry) {
      entry = { labels, byBound: [], sumSeconds: 0 };
      this.series.set(id, entry);
    }
    return entry;
  }

  addBucket(labels: string[], bound: string, n: number): void {
    this.of(labels).byBound.push([bound === "+Inf" ? Infinity : Number(bound), n]);
  }

  addSum(labels: string[], seconds: number): void {
    this.of(labels).sumSeconds = seconds;
  }

  read(bounds: readonly number[]): ({ labels: string[] } & HistogramSeries)[] {
    return [...this.series.values()].map((entry) => ({
      labels: entry.labels,
      buckets: bounds.map((le) => entry.byBound.reduce((sum, [bound, n]) => (bound <= le ? sum + n : sum), 0)),
      count: entry.byBound.reduce((sum, [, n]) => sum + n, 0),
      sumSeconds: entry.sumSeconds,
    }));
  }
}

function parseSnapshot(raw: Record<string, string>): StepMetricsSnapshot {
  const snapshot: StepMetricsSnapshot = {
    steps: [],
    latency: [],
    runs: [],
    tokens: [],
    cost: [],
    errors: [],
    archiveFailures: 0,
  };
  const latency = new HistogramReader();
  const runs = new HistogramReader();
  for (const [key, value] of Object.entries(raw)) {
    let parts: unknown;
    try {
      parts = JSON.parse(key);
    } catch {
      continue; // not ours
    }
    if (!Array.isArray(parts) || !parts.every((p) => typeof p === "string")) continue;
    const [kind, a = "", b = "", c = ""] = parts;
    const n = Number(value);
    if (!Number.isFinite(n)) continue;
    if (kind === "steps") snapshot.steps.push({ provider: a, model: b, status: c, count: n });
    else if (kind === "tokens" && (c === "prompt" || c === "completion"))
      snapshot.tokens.push({ provider: a, model: b, kind: c, count: n });
    else if (kind === "cost") snapshot.cost.push({ provider: a, model: b, usd: n });
    else if (kind === "errors") snapshot.errors.push({ provider: a, code: b, count: n });
    else if (kind === "archive_failures") snapshot.archiveFailures = n;
    else if (kind === "latency_sum") latency.addSum([a, b], n);
    else if (kind === "latency_le") latency.addBucket([a, b], c, n);
    else if (kind === "run_sum") runs.addSum([a, b], n);
    else if (kind === "run_le") runs.addBucket([a, b], c, n);
  }
  snapshot.latency = latency
    .read(STEP_LATENCY_BUCKETS_SECONDS)
    .map(({ labels: [provider = "", model = ""], ...series }) => ({ provider, model, ...series }));
  snapshot.runs = runs
    .read(RUN_DURATION_BUCKETS_SECONDS)
    .map(({ labels: [flowType = "", status = ""], ...series }) => ({ flowType, status, ...series }));
  return snapshot;
}
