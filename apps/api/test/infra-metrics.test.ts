import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ProcessMetrics } from "@ensemble/engine";
import { RUN_DURATION_BUCKETS_SECONDS, STEP_LATENCY_BUCKETS_SECONDS } from "@ensemble/queue";
import type { Registry } from "prom-client";
import { HttpMetrics } from "../src/ops/http-metrics.js";
import { clusterRegistry } from "../src/ops/prometheus-metrics.js";

const INFRA = join(__dirname, "../../../infra");
const dashboard = readFileSync(join(INFRA, "grafana/ensemble-dashboard.json"), "utf8");
const alerts = readFileSync(join(INFRA, "prometheus/ensemble-alerts.yml"), "utf8");

/** Every series name the registries export (a histogram's _bucket, _sum and _count too). */
async function exportedNames(registries: Registry[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of registries) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (["histogram", "summary"].includes(String(metric.type)))
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

/** The metric names a PromQL text uses (Ensemble's, and Node's and the process's default ones). */
function namedMetrics(text: string): string[] {
  return [...new Set(text.match(/\b(?:ensemble|nodejs|process)_[a-z0-9_]+\b/g) ?? [])].sort();
}

describe("infra/: the Grafana dashboard and the Prometheus alerts", () => {
  let exported: Set<string>;

  beforeAll(async () => {
    // What the API's /metrics (cluster and HTTP) and a worker's or scheduler's HEALTH_PORT /metrics export.
    const cluster = clusterRegistry({
      queueDepths: { "steps-sim": { waiting: 1, active: 0, delayed: 0, failed: 0 } },
      activeFlows: { queued: 0, running: 1, waiting: 0 },
      endedFlows: { completed: 1, failed: 0, cancelled: 0, timed_out: 0 },
      providerWorkers: { sim: 1 },
      steps: {
        steps: [{ provider: "sim", model: "echo", status: "success", count: 1 }],
        latency: [
          {
            provider: "sim",
            model: "echo",
            buckets: STEP_LATENCY_BUCKETS_SECONDS.map(() => 1),
            count: 1,
            sumSeconds: 0,
          },
        ],
        runs: [
          {
            flowType: "sequential",
            status: "completed",
            buckets: RUN_DURATION_BUCKETS_SECONDS.map(() => 1),
            count: 1,
            sumSeconds: 0.4,
          },
        ],
        tokens: [{ provider: "sim", model: "echo", kind: "prompt", count: 1 }],
        cost: [{ provider: "sim", model: "echo", usd: 0.1 }],
        errors: [{ provider: "sim", code: "timeout", count: 1 }],
        archiveFailures: 0,
      },
    });
    const worker = new ProcessMetrics({ role: "worker" });
    worker.observeStepsInFlight(() => new Map([["sim", 0]]), ["sim"]);
    exported = await exportedNames([cluster, new HttpMetrics().registry, worker.registry]);
  });

  it("the dashboard is Grafana JSON whose queries name only metrics Ensemble exports", () => {
    const parsed = JSON.parse(dashboard) as { panels: { targets: { expr: string }[] }[] };
    const exprs = parsed.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const named = namedMetrics(exprs.join("\n"));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("the alert rules name only exported metrics, and cover the operator's alerts", () => {
    expect(namedMetrics(alerts).filter((name) => !exported.has(name))).toEqual([]);
    const names = [...alerts.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(names).toEqual(
      expect.arrayContaining([
        "EnsembleStepQueueBackingUp",
        "EnsembleProviderErrorRate",
        "EnsembleCostBurn",
        "EnsembleLeaseTakeovers",
        "EnsembleNoLiveWorkerForProvider",
      ]),
    );
  });

  it("would catch a metric that is not exported", () => {
    expect(namedMetrics("rate(ensemble_made_up_total[5m])").filter((name) => !exported.has(name))).toEqual([
      "ensemble_made_up_total",
    ]);
  });
});
