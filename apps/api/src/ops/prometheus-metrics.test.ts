import { RUN_DURATION_BUCKETS_SECONDS, STEP_LATENCY_BUCKETS_SECONDS } from "@ensemble/queue";
import { clusterRegistry } from "./prometheus-metrics.js";

// Five attempts ≤ 50 ms, two more ≤ 1 s, one slower than the last bound (only in +Inf).
const BUCKETS = STEP_LATENCY_BUCKETS_SECONDS.map((le) => (le < 1 ? 5 : 7));
// Two runs ≤ 5 s, one more ≤ 1 min.
const RUN_BUCKETS = RUN_DURATION_BUCKETS_SECONDS.map((le) => (le < 5 ? 0 : le < 60 ? 2 : 3));

describe("clusterRegistry", () => {
  it("renders one scrape's data as Prometheus text, the latency histogram included", async () => {
    const text = await clusterRegistry({
      queueDepths: {
        steps: { waiting: 3, active: 1, delayed: 0, failed: 2 },
        "steps-openai": { waiting: 9, active: 0, delayed: 1, failed: 0 },
      },
      activeFlows: { queued: 4, running: 5, waiting: 2 },
      providerWorkers: { openai: 0, sim: 2 },
      steps: {
        steps: [{ provider: "sim", model: "echo", status: "success", count: 7 }],
        latency: [{ provider: "sim", model: "echo", buckets: BUCKETS, count: 8, sumSeconds: 1.5 }],
        runs: [{ flowType: "parallel", status: "failed", buckets: RUN_BUCKETS, count: 3, sumSeconds: 52 }],
        tokens: [{ provider: "sim", model: "echo", kind: "prompt", count: 120 }],
        cost: [{ provider: "openai", model: "gpt-4o", usd: 0.25 }],
        errors: [{ provider: "openai", code: "rate_limited", count: 1 }],
        archiveFailures: 2,
      },
    }).metrics();
    const lines = text.split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        'ensemble_metrics_source_up{source="redis"} 1',
        'ensemble_queue_jobs{queue="steps",state="waiting"} 3',
        'ensemble_queue_jobs{queue="steps",state="failed"} 2',
        'ensemble_queue_jobs{queue="steps-openai",state="waiting"} 9',
        'ensemble_provider_live_workers{provider="openai"} 0',
        'ensemble_provider_live_workers{provider="sim"} 2',
        'ensemble_flows{status="running"} 5',
        'ensemble_flows{status="waiting"} 2',
        "# TYPE ensemble_step_attempts_total counter",
        'ensemble_step_attempts_total{provider="sim",model="echo",status="success"} 7',
        'ensemble_step_tokens_total{provider="sim",model="echo",kind="prompt"} 120',
        'ensemble_step_cost_usd_total{provider="openai",model="gpt-4o"} 0.25',
        'ensemble_step_errors_total{provider="openai",code="rate_limited"} 1',
        "ensemble_event_archive_failures_total 2",
        "# TYPE ensemble_step_duration_seconds histogram",
        'ensemble_step_duration_seconds_bucket{provider="sim",model="echo",le="0.05"} 5',
        'ensemble_step_duration_seconds_bucket{provider="sim",model="echo",le="0.5"} 5',
        'ensemble_step_duration_seconds_bucket{provider="sim",model="echo",le="1"} 7',
        'ensemble_step_duration_seconds_bucket{provider="sim",model="echo",le="+Inf"} 8',
        'ensemble_step_duration_seconds_sum{provider="sim",model="echo"} 1.5',
        'ensemble_step_duration_seconds_count{provider="sim",model="echo"} 8',
        "# TYPE ensemble_flow_duration_seconds histogram",
        'ensemble_flow_duration_seconds_bucket{flow_type="parallel",status="failed",le="2.5"} 0',
        'ensemble_flow_duration_seconds_bucket{flow_type="parallel",status="failed",le="5"} 2',
        'ensemble_flow_duration_seconds_bucket{flow_type="parallel",status="failed",le="60"} 3',
        'ensemble_flow_duration_seconds_bucket{flow_type="parallel",status="failed",le="+Inf"} 3',
        'ensemble_flow_duration_seconds_sum{flow_type="parallel",status="failed"} 52',
        'ensemble_flow_duration_seconds_count{flow_type="parallel",status="failed"} 3',
      ]),
    );
  });

  it("leaves out what a scrape could not read and says so", async () => {
    const text = await clusterRegistry({
      queueDepths: null,
      activeFlows: { queued: 0, running: 0, waiting: 0 },
      steps: null,
    }).metrics();
    expect(text).toContain('ensemble_metrics_source_up{source="redis"} 0');
    expect(text).toContain('ensemble_metrics_source_up{source="postgres"} 1');
    expect(text).not.toContain("ensemble_queue_jobs");
    expect(text).not.toContain("ensemble_step_attempts_total");
  });
});
