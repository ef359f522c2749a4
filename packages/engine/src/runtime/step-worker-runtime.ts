import { defaultTokenCounter } from "@ensemble/core";
import {
  closeGracefully,
  createJobWorker,
  deferJob,
  QUEUE_NAMES,
  stepQueueName,
  type Job,
  type JobPayload,
  type Worker,
} from "@ensemble/queue";
import type { Redis } from "ioredis";
import { renewStepLeases } from "@ensemble/db";
import { legacyStepTarget } from "../catalog/legacy-step-target.js";
import { leaseRenewalIntervalMs, type EngineDeps } from "../engine-deps.js";
import { LeaseKeeper } from "../step/lease-keeper.js";
import { InFlightCalls } from "../step/in-flight-calls.js";
import { runStep } from "../step/run-step.js";
import { pollBatch, submitBatch } from "../batch/run-batch.js";
import { startStepFairly } from "../step/fair-start.js";
import type { Runtime } from "./scheduler-runtime.js";

export interface StepWorkerOptions {
  /** A worker-role Redis connection. */
  connection: Redis;
  prefix?: string;
  /** Steps in flight per provider queue (env WORKER_CONCURRENCY). LLM calls wait on the network, so this can be high. Default: 50. */
  concurrency?: number;
  /** BullMQ lock; keep it equal to the step lease so a dead worker's step is taken over in one lease. */
  lockDuration?: number;
  stalledInterval?: number;
  /**
   * The providers whose steps this worker takes (env WORKER_PROVIDERS): one queue each,
   * `steps-<provider>`. Each must be configured in this process. Default: every provider it has.
   */
  providers?: readonly string[];
  /** Per provider, the only models its steps may name here (env WORKER_MODELS); registered in the provider catalog. Default: any. */
  models?: Readonly<Record<string, readonly string[]>>;
}

/** A running step worker: the providers it serves and its calls in flight. */
export interface StepWorkerRuntime extends Runtime {
  inFlight: InFlightCalls;
  /** The providers it serves, sorted. */
  providers: string[];
  /** Its BullMQ workers: one per provider queue, and the plain `steps` queue's. */
  workers: Worker[];
}

/**
 * A step worker: one BullMQ worker per provider it serves, each on that provider's queue,
 * plus one that drains the plain `steps` queue (step jobs of a release before pools: each is
 * run here if this worker serves its provider, else moved to its provider's queue). It joins
 * the provider catalog, and aborts its calls of a flow when the cluster cancels it.
 */
export async function startStepWorker(deps: EngineDeps, options: StepWorkerOptions): Promise<StepWorkerRuntime> {
  const providers = servedProviders(deps, options.providers);
  const served = new Set(providers);
  // Load the tokenizer's tables now (~1 s), not inside the first step.
  defaultTokenCounter.count("warm up");
  const leases = new LeaseKeeper(
    async (held) => {
      const kept = await renewStepLeases(deps.leaseDb, held, deps.settings.stepLeaseMs);
      for (const lease of held) deps.observer?.leaseRenewal(kept.has(lease.id) ? "held" : "lost");
      return kept;
    },
    leaseRenewalIntervalMs(deps.settings),
    (err) => {
      deps.observer?.leaseRenewal("error");
      deps.logger.warn({ err }, "lease renewal failed; will retry");
    },
  );
  const inFlight = new InFlightCalls(leases);
  const stopListening = await deps.cancelSignals.listen((flowId, reason) => {
    const aborted = inFlight.abortFlow(flowId, reason);
    if (aborted > 0) deps.logger.info({ flowId, reason, aborted }, "aborted running provider calls");
  });
  const concurrency = options.concurrency ?? 50;
  // Once closing, a finished step's next step gets a job instead of running here.
  let closing = false;

  const run = async (payload: JobPayload<"step.run">, job: Job): Promise<unknown> => {
    const slot = await startStepFairly(deps, payload, job);
    // The later steps of the run this job went on with: its return value (Bull Board shows it).
    const continuedWith: string[] = [];
    try {
      const result = await runStep(deps, inFlight, payload, {
        deferFor: (ms) => deferJob(job, ms),
        mayContinue: () => !closing,
        serves: (provider) => served.has(provider),
        allowsModel: (provider, model) => options.models?.[provider]?.includes(model) ?? true,
        continuedWith: (label) => void continuedWith.push(label),
      });
      return continuedWith.length > 0 ? { result, continuedWith } : result;
    } finally {
      await slot.release();
    }
  };
  const common = {
    queue: QUEUE_NAMES.steps,
    connection: options.connection,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    concurrency,
    lockDuration: options.lockDuration ?? deps.settings.stepLeaseMs,
    stalledInterval: options.stalledInterval ?? Math.max(1_000, Math.floor(deps.settings.stepLeaseMs / 2)),
    name: `worker:${deps.workerId}`,
    onError: (err: Error) => deps.logger.error({ err }, "step queue error"),
  } as const;
  const workers = providers.map((provider) =>
    createJobWorker({
      ...common,
      queueName: stepQueueName(provider),
      handlers: {
        "step.run": run,
        "batch.submit": (payload) => submitBatch(deps, payload),
        "batch.poll": (payload) => pollBatch(deps, payload),
      },
    }),
  );
  workers.push(
    createJobWorker({
      ...common,
      handlers: {
        "step.run": async (payload, job) => {
          const target = await legacyStepTarget(deps, payload);
          if (!target) return "stale";
          const routed = { ...payload, ...target };
          if (served.has(target.provider)) return run(routed, job);
          const moved = await deps.producer.add("step.run", routed, { lifo: true });
          return { movedTo: moved.queue };
        },
      },
    }),
  );
  for (const worker of workers) {
    worker.on("completed", () => deps.observer?.jobProcessed(worker.name));
    worker.on("failed", (job, err) => {
      deps.observer?.jobFailed(worker.name);
      deps.logger.warn({ err, jobId: job?.id, queue: worker.name }, "step job failed");
    });
  }

  const membership = await deps.providerCatalog.join(
    deps.workerId,
    providers.map((key) => ({
      key,
      models: options.models?.[key] ? [...options.models[key]] : null,
      limits: deps.rateLimiter?.limitsOf(key) ?? {},
    })),
  );
  deps.logger.info({ concurrency, providers }, "step worker started");
  return {
    inFlight,
    providers,
    workers,
    close: async () => {
      closing = true;
      await Promise.all(workers.map((worker) => closeGracefully(worker)));
      await membership.leave();
      await stopListening();
    },
  };
}

function servedProviders(deps: EngineDeps, wanted: readonly string[] | undefined): string[] {
  const configured = deps.providers.keys();
  if (!wanted) return configured;
  const missing = wanted.filter((p) => !deps.providers.has(p));
  if (missing.length > 0)
    throw new Error(
      `WORKER_PROVIDERS names ${missing.join(", ")}, which this worker has not configured (configured: ${configured.join(", ")})`,
    );
  return [...new Set(wanted)].sort();
}
