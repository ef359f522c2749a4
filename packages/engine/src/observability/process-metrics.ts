import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { EngineObserver } from "./engine-observer.js";

/**
 * A worker's or scheduler's own metrics, served on its HEALTH_PORT: process and Node
 * metrics (CPU, memory, GC, event-loop delay), the engine's lease and rate-limit events,
 * jobs per queue, and (for workers) steps in flight per provider. Per process: Prometheus
 * scrapes every pod and sums.
 */
export class ProcessMetrics implements EngineObserver {
  readonly registry = new Registry();
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly renewals: Counter<"outcome">;
  private readonly takeovers: Counter<"provider">;
  private readonly rateLimitWaits: Counter<"provider">;
  private readonly userCapWaits: Counter;
  private readonly processed: Counter<"queue">;
  private readonly failed: Counter<"queue">;

  constructor(options: { role: "worker" | "scheduler" }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role: options.role });
    collectDefaultMetrics({ register: this.registry });
    this.renewals = new Counter({
      name: "ensemble_lease_renewals_total",
      help: "Step lease heartbeats by outcome: held, lost (another worker took the step), error (database unreachable)",
      labelNames: ["outcome"],
      registers,
    });
    this.takeovers = new Counter({
      name: "ensemble_lease_takeovers_total",
      help: "Running steps this process claimed after their lease expired (their worker died or stalled): each may be a second, billed provider call",
      labelNames: ["provider"],
      registers,
    });
    this.rateLimitWaits = new Counter({
      name: "ensemble_provider_rate_limit_waits_total",
      help: "Steps put back to wait for a provider rate limit (PROVIDER_RATE_LIMITS)",
      labelNames: ["provider"],
      registers,
    });
    this.userCapWaits = new Counter({
      name: "ensemble_user_cap_waits_total",
      help: "Step jobs put back because their user had maxInFlightSteps steps running",
      registers,
    });
    this.processed = new Counter({
      name: "ensemble_jobs_processed_total",
      help: "Jobs this process completed, by BullMQ queue",
      labelNames: ["queue"],
      registers,
    });
    this.failed = new Counter({
      name: "ensemble_jobs_failed_total",
      help: "Job attempts that failed in this process, by BullMQ queue (BullMQ retries them per the job catalog)",
      labelNames: ["queue"],
      registers,
    });
  }

  leaseRenewal(outcome: "held" | "lost" | "error"): void {
    this.renewals.inc({ outcome });
  }

  leaseTakeover(provider: string): void {
    this.takeovers.inc({ provider });
  }

  rateLimitWait(provider: string): void {
    this.rateLimitWaits.inc({ provider });
  }

  userCapWait(): void {
    this.userCapWaits.inc();
  }

  jobProcessed(queue: string): void {
    this.processed.inc({ queue });
  }

  jobFailed(queue: string): void {
    this.failed.inc({ queue });
  }

  /** Steps in flight per provider, read at each scrape from `read` (a worker's in-flight calls). */
  observeStepsInFlight(read: () => Map<string, number>, providers: readonly string[]): void {
    new Gauge({
      name: "ensemble_steps_in_flight",
      help: "Provider calls this worker is making now, by provider",
      labelNames: ["provider"],
      registers: [this.registry],
      collect() {
        const counts = read();
        for (const provider of providers) this.set({ provider }, counts.get(provider) ?? 0);
      },
    });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
