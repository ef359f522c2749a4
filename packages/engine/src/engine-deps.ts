import type { HookRegistry, PriceTable } from "@ensemble/core";
import type { Database, Executor, TransactionControl } from "@ensemble/db";
import type { ProviderRegistry } from "@ensemble/providers";
import type {
  ArchiveSchedule,
  CancelSignals,
  ClusterMetrics,
  JobProducer,
  ProgressBus,
  ProviderRateLimiter,
} from "@ensemble/queue";
import type { Logger } from "pino";
import type { ProviderCatalog } from "./catalog/provider-catalog.js";
import type { EngineObserver } from "./observability/engine-observer.js";
import type { CommittedDeliveries } from "./run/committed-deliveries.js";
import { CompiledFlowCache } from "./run/flow-cache.js";
import type { SpendCaps } from "./spend/spend-caps.js";
import type { PlannedEndCommitter } from "./step/planned-end-committer.js";
import type { StepClaims } from "./step/step-claims.js";
import type { StepEndCommitter } from "./step/step-end-committer.js";

/** Tunables of the run engine; defaults suit real LLM calls (seconds to minutes). */
export interface EngineSettings {
  /** How long a claimed step is held without a heartbeat before another worker may take it over. */
  stepLeaseMs: number;
  /** Per-attempt provider timeout when neither the step nor the execute call sets one. */
  defaultStepTimeoutMs: number;
  /** Token deltas are batched into one step_progress event per this many ms. */
  progressIntervalMs: number;
  /** How long a pending step may wait before the sweeper re-enqueues its job. */
  staleStepMs: number;
  /** How long a flow's Redis event stream is kept once its events are archived to Postgres. */
  archivedEventsTtlMs: number;
  /** How long a user's oldest low or normal step job waits before the sweep promotes it one priority class. */
  priorityAgingMs: number;
  /** Batch delivery: a provider and model's batched steps are submitted once this many wait (a batch holds at most this many)… */
  batchMaxSize: number;
  /** …or once the oldest has waited this long. */
  batchMaxAgeMs: number;
  /** How often a submitted batch is polled (at most once per scheduler sweep). */
  batchPollMs: number;
}

export const DEFAULT_ENGINE_SETTINGS: EngineSettings = {
  stepLeaseMs: 30_000,
  defaultStepTimeoutMs: 300_000,
  progressIntervalMs: 50,
  staleStepMs: 60_000,
  archivedEventsTtlMs: 60_000,
  priorityAgingMs: 60_000,
  batchMaxSize: 1_000,
  batchMaxAgeMs: 60_000,
  batchPollMs: 30_000,
};

/** How often a held lease is renewed: three chances within one lease. */
export function leaseRenewalIntervalMs(settings: EngineSettings): number {
  return Math.max(250, Math.floor(settings.stepLeaseMs / 3));
}

/**
 * What starting, advancing, repairing, cancelling and reading runs use: every process has
 * these (the API, the scheduler, workers). See `EngineDeps` for what running steps adds.
 */
export interface RunDeps {
  /** Durable writes: results, ledger, flow state. */
  db: Database;
  /** A transaction on `db` whose BEGIN and COMMIT cost no round trip of their own (see DatabaseHandle.transact). */
  transact<T>(fn: (tx: Executor, control: TransactionControl) => Promise<T>): Promise<T>;
  producer: JobProducer;
  bus: ProgressBus;
  /** Ended flows whose events are due to be archived to Postgres. */
  archives: ArchiveSchedule;
  cancelSignals: CancelSignals;
  /** Events and archive entries owed by committed transactions, kept through a Redis blip. */
  deliveries: CommittedDeliveries;
  logger: Logger;
  settings: EngineSettings;
  flows: CompiledFlowCache;
  /** This process's name in leases (host:pid:random). */
  workerId: string;
  /** The providers the cluster serves (Postgres): workers register, create and execute refuse the others. */
  providerCatalog: ProviderCatalog;
  /** Spend caps per user, checked on execute and at each step's commit. */
  spendCaps: SpendCaps;
  /** This process's metrics of lease and rate-limit events (its HEALTH_PORT /metrics); unset: not counted. */
  observer?: EngineObserver;
  /** Cluster-wide step and run metrics in Redis (the API renders them at /metrics); unset: not recorded. */
  metrics?: ClusterMetrics;
}

/** What running steps adds to `RunDeps`: provider calls and their limits, step leases, step-end commits. */
export interface StepDeps {
  /** Step leases (may commit asynchronously: a lost lease is re-claimed and fencing still holds). */
  leaseDb: Database;
  /** Group commit of step claims on `leaseDb` (many claims, one statement). */
  claims: StepClaims;
  /** Group commit of the ends of steps that end without their flow's lock (many ends, one transaction). */
  stepEnds: StepEndCommitter;
  /** Group commit across runs of steps' ends that carry their run's next steps (a sequential flow's steps). */
  plannedEnds: PlannedEndCommitter;
  providers: ProviderRegistry;
  /** Cluster-wide provider limits; null when none are configured. */
  rateLimiter: ProviderRateLimiter | null;
  hooks: HookRegistry;
  prices: PriceTable;
}

/** What a step worker runs on (a worker process, or the all-in-one process): everything. */
export type EngineDeps = RunDeps & StepDeps;
