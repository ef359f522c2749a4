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

export interface StepMetricsSnapshot {
  steps: { provider: string; model: string; status: string; count: number }[];
  /** `buckets[i]` counts attempts ≤ `STEP_LATENCY_BUCKETS_SECONDS[i]` (cumulative, as Prometheus wants). */
  latency: { provider: string; model: string; buckets: number[]; count: number; sumSeconds: number }[];
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
  | ["tokens", string, string, "prompt" | "completion"]
  | ["cost", string, string]
  | ["errors", string, string]
  | ["archive_failures"];

/**
 * Step metrics of the whole cluster, kept in Redis: workers run in other processes than
 * the API that serves /metrics, so a counter in one process would see only its own steps.
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
    const bound = STEP_LATENCY_BUCKETS_SECONDS.find((le) => seconds <= le);
    const increments: [Field, number][] = [
      [["steps", provider, model, sample.status], 1],
      [["latency_le", provider, model, bound === undefined ? "+Inf" : String(bound)], 1],
      [["latency_sum", provider, model], seconds],
    ];
    if (sample.promptTokens > 0)
      increments.push([["tokens", provider, model, "prompt"], Math.round(sample.promptTokens)]);
    if (sample.completionTokens > 0)
      increments.push([["tokens", provider, model, "completion"], Math.round(sample.completionTokens)]);
    if (sample.costUsd !== null && sample.costUsd > 0) increments.push([["cost", provider, model], sample.costUsd]);
    if (sample.status === "failed") increments.push([["errors", provider, clamp(sample.errorCode ?? "unknown")], 1]);
    // Integer counters use HINCRBY; seconds and dollars HINCRBYFLOAT.
    const isFloat = (kind: Field[0]): boolean => kind === "latency_sum" || kind === "cost";
    // One script call per attempt: atomic for a scrape, and one command instead of five or more.
    await this.call("recordStep", () =>
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

function parseSnapshot(raw: Record<string, string>): StepMetricsSnapshot {
  const snapshot: StepMetricsSnapshot = {
    steps: [],
    latency: [],
    tokens: [],
    cost: [],
    errors: [],
    archiveFailures: 0,
  };
  const latency = new Map<
    string,
    { provider: string; model: string; byBound: [number, number][]; sumSeconds: number }
  >();
  const latencyOf = (provider: string, model: string) => {
    const id = JSON.stringify([provider, model]);
    let entry = latency.get(id);
    if (!entry) {
      entry = { provider, model, byBound: [], sumSeconds: 0 };
      latency.set(id, entry);
    }
    return entry;
  };
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
    else if (kind === "latency_sum") latencyOf(a, b).sumSeconds = n;
    else if (kind === "latency_le") latencyOf(a, b).byBound.push([c === "+Inf" ? Infinity : Number(c), n]);
  }
  for (const entry of latency.values()) {
    // Stored per bucket (not cumulative), so a changed bucket list still adds up: each stored
    // bound counts toward every current bound at or above it.
    const buckets = STEP_LATENCY_BUCKETS_SECONDS.map((le) =>
      entry.byBound.reduce((sum, [bound, n]) => (bound <= le ? sum + n : sum), 0),
    );
    const count = entry.byBound.reduce((sum, [, n]) => sum + n, 0);
    snapshot.latency.push({
      provider: entry.provider,
      model: entry.model,
      buckets,
      count,
      sumSeconds: entry.sumSeconds,
    });
  }
  return snapshot;
}
