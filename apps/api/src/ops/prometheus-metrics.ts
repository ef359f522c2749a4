import { countFlowsByStatus } from "@ensemble/db";
import type { RunDeps } from "@ensemble/engine";
import {
  RUN_DURATION_BUCKETS_SECONDS,
  STEP_LATENCY_BUCKETS_SECONDS,
  type HistogramSeries,
  type QueueDepth,
  type StepMetricsSnapshot,
} from "@ensemble/queue";
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";

/** Flow statuses counted as active by `ensemble_flows`. */
const ACTIVE_FLOW_STATUSES = ["queued", "running", "waiting"] as const;
/** Statuses a run ends in, counted by `ensemble_flows_ended`. */
const ENDED_FLOW_STATUSES = ["completed", "failed", "cancelled", "timed_out"] as const;

/** What one scrape reads; a source that failed is null (its metrics are left out, `ensemble_metrics_source_up` says so). */
export interface ScrapeData {
  queueDepths: Record<string, QueueDepth> | null;
  activeFlows: Record<(typeof ACTIVE_FLOW_STATUSES)[number], number> | null;
  /** Flows by the status their latest run ended in (one grouped count with the active ones). */
  endedFlows?: Record<(typeof ENDED_FLOW_STATUSES)[number], number> | null;
  steps: StepMetricsSnapshot | null;
  /** Live workers per known provider (the provider catalog); null when Postgres could not be read. */
  providerWorkers?: Record<string, number> | null;
}

/**
 * /metrics: the cluster's state, read fresh from Redis and Postgres at each scrape, plus
 * this API process's own default metrics (`process_*`, `nodejs_*`). Step metrics come
 * from Redis (`ClusterMetrics`), where every worker records its steps, so any API
 * replica serves the same cluster-wide numbers.
 */
export class PrometheusMetrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly processRegistry = new Registry();

  constructor(
    private readonly deps: Pick<RunDeps, "producer" | "db" | "metrics" | "logger" | "providerCatalog">,
    /** This process's HTTP metrics, merged into each scrape. */
    private readonly httpRegistry?: Registry,
  ) {
    collectDefaultMetrics({ register: this.processRegistry });
  }

  /** The Prometheus text of one scrape. Sources are read in parallel; none of them failing fails the scrape. */
  async scrape(): Promise<string> {
    const catalog = await this.read("provider catalog", () => this.deps.providerCatalog.list());
    const providers = catalog?.map((p) => p.key) ?? [];
    const [queueDepths, flowCounts, steps] = await Promise.all([
      // Each provider's step queue too: a pool scaled to zero still has its queue watched.
      this.read("queue depths", () => this.deps.producer.queueDepths(providers)),
      this.read("flow counts", () =>
        countFlowsByStatus(this.deps.db, [...ACTIVE_FLOW_STATUSES, ...ENDED_FLOW_STATUSES]),
      ),
      this.deps.metrics ? this.read("step metrics", () => this.deps.metrics!.snapshot()) : Promise.resolve(null),
    ]);
    const providerWorkers = catalog && Object.fromEntries(catalog.map((p) => [p.key, p.liveWorkers.length]));
    const pick = <S extends string>(statuses: readonly S[]): Record<S, number> | null =>
      flowCounts &&
      (Object.fromEntries(statuses.map((s) => [s, (flowCounts as Record<string, number>)[s] ?? 0])) as Record<
        S,
        number
      >);
    const activeFlows = pick(ACTIVE_FLOW_STATUSES);
    const endedFlows = pick(ENDED_FLOW_STATUSES);
    return Registry.merge([
      this.processRegistry,
      ...(this.httpRegistry ? [this.httpRegistry] : []),
      clusterRegistry({ queueDepths, activeFlows, endedFlows, steps, providerWorkers }),
    ]).metrics();
  }

  private async read<T>(what: string, load: () => Promise<T>): Promise<T | null> {
    try {
      return await load();
    } catch (err) {
      this.deps.logger.warn({ err }, `metrics: ${what} unavailable`);
      return null;
    }
  }
}

/** A registry holding one scrape's cluster metrics (fresh each time: no state shared between scrapes). */
export function clusterRegistry(data: ScrapeData): Registry {
  const registry = new Registry();
  const registers = [registry];

  const sourceUp = new Gauge({
    name: "ensemble_metrics_source_up",
    help: "1 if this scrape could read the source (redis: queues and step metrics; postgres: flow counts)",
    labelNames: ["source"],
    registers,
  });
  sourceUp.set({ source: "redis" }, data.queueDepths ? 1 : 0);
  sourceUp.set({ source: "postgres" }, data.activeFlows ? 1 : 0);

  if (data.queueDepths) {
    const jobs = new Gauge({
      name: "ensemble_queue_jobs",
      help: "Jobs in a BullMQ queue by state (waiting includes prioritized)",
      labelNames: ["queue", "state"],
      registers,
    });
    for (const [queue, depth] of Object.entries(data.queueDepths)) {
      for (const [state, count] of Object.entries(depth)) jobs.set({ queue, state }, count);
    }
  }

  if (data.providerWorkers) {
    const live = new Gauge({
      name: "ensemble_provider_live_workers",
      help: "Worker processes serving a provider with a recent heartbeat (the provider catalog); 0 for a pool scaled to zero",
      labelNames: ["provider"],
      registers,
    });
    for (const [provider, count] of Object.entries(data.providerWorkers)) live.set({ provider }, count);
  }

  if (data.activeFlows) {
    const flows = new Gauge({
      name: "ensemble_flows",
      help: "Flows that are queued or running now (from Postgres)",
      labelNames: ["status"],
      registers,
    });
    for (const [status, count] of Object.entries(data.activeFlows)) flows.set({ status }, count);
  }

  if (data.endedFlows) {
    const ended = new Gauge({
      name: "ensemble_flows_ended",
      help: "Flows whose latest run ended, by status (completed, failed, cancelled, timed_out), from Postgres; rate() of it counts runs ending",
      labelNames: ["status"],
      registers,
    });
    for (const [status, count] of Object.entries(data.endedFlows)) ended.set({ status }, count);
  }

  if (data.steps) {
    const attempts = new Counter({
      name: "ensemble_step_attempts_total",
      help: "Step attempts committed by the workers, by provider, model and outcome",
      labelNames: ["provider", "model", "status"],
      registers,
    });
    for (const s of data.steps.steps) attempts.inc({ provider: s.provider, model: s.model, status: s.status }, s.count);

    const tokens = new Counter({
      name: "ensemble_step_tokens_total",
      help: "Tokens reported by the providers, by provider, model and kind (prompt or completion)",
      labelNames: ["provider", "model", "kind"],
      registers,
    });
    for (const t of data.steps.tokens) tokens.inc({ provider: t.provider, model: t.model, kind: t.kind }, t.count);

    const cost = new Counter({
      name: "ensemble_step_cost_usd_total",
      help: "Cost of step attempts in USD from the price table (models without a price add nothing)",
      labelNames: ["provider", "model"],
      registers,
    });
    for (const c of data.steps.cost) cost.inc({ provider: c.provider, model: c.model }, c.usd);

    const errors = new Counter({
      name: "ensemble_step_errors_total",
      help: "Failed step attempts by provider and error code (rate_limited, timeout, …)",
      labelNames: ["provider", "code"],
      registers,
    });
    for (const e of data.steps.errors) errors.inc({ provider: e.provider, code: e.code }, e.count);

    const archiveFailures = new Counter({
      name: "ensemble_event_archive_failures_total",
      help: "Flows whose events Postgres refused when they were archived (they stay in the Redis stream for its retention)",
      registers,
    });
    archiveFailures.inc(data.steps.archiveFailures);

    registry.registerMetric(
      precountedHistogram(
        "ensemble_step_duration_seconds",
        "Step attempt duration (call to commit) by provider and model",
        STEP_LATENCY_BUCKETS_SECONDS,
        data.steps.latency.map(({ provider, model, ...series }) => ({ labels: { provider, model }, ...series })),
      ),
    );
    registry.registerMetric(
      precountedHistogram(
        "ensemble_flow_duration_seconds",
        "Run duration (start to end) by flow type and the status it ended in",
        RUN_DURATION_BUCKETS_SECONDS,
        data.steps.runs.map(({ flowType, status, ...series }) => ({
          labels: { flow_type: flowType, status },
          ...series,
        })),
      ),
    );
  }
  return registry;
}

/**
 * A histogram whose buckets the workers counted (in Redis). prom-client's Histogram can
 * only observe values one by one, so this metric object hands the registry the
 * already-counted series in the shape Histogram#get() returns.
 */
function precountedHistogram(
  name: string,
  help: string,
  bounds: readonly number[],
  series: ({ labels: Record<string, string> } & HistogramSeries)[],
): Metric {
  const values = series.flatMap(({ labels, buckets, count, sumSeconds }) => [
    ...bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: buckets[i] ?? 0 })),
    { metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count },
    { metricName: `${name}_sum`, labels, value: sumSeconds },
    { metricName: `${name}_count`, labels, value: count },
  ]);
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: async () => ({ name, help, type: "histogram", aggregator: "sum", values }),
  };
  // Duck-typed: the registry only calls get() and reads name/type (see prom-client's registry.js).
  return metric as unknown as Metric;
}
