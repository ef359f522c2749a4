import { defaultTokenCounter } from "@ensemble/core";
import { closeGracefully, createJobWorker, deferJob } from "@ensemble/queue";
import type { Redis } from "ioredis";
import { renewStepLeases } from "@ensemble/db";
import { leaseRenewalIntervalMs, type EngineDeps } from "../engine-deps.js";
import { LeaseKeeper } from "../step/lease-keeper.js";
import { InFlightCalls } from "../step/in-flight-calls.js";
import { runStep } from "../step/run-step.js";
import type { Runtime } from "./scheduler-runtime.js";

export interface StepWorkerOptions {
  /** A worker-role Redis connection. */
  connection: Redis;
  prefix?: string;
  /** Steps in flight in this process (env WORKER_CONCURRENCY). LLM calls wait on the network, so this can be high. Default: 50. */
  concurrency?: number;
  /** BullMQ lock; keep it equal to the step lease so a dead worker's step is taken over in one lease. */
  lockDuration?: number;
  stalledInterval?: number;
}

/** A step worker: runs step jobs, and aborts its calls of a flow when the cluster cancels it. */
export async function startStepWorker(
  deps: EngineDeps,
  options: StepWorkerOptions,
): Promise<Runtime & { inFlight: InFlightCalls }> {
  // Load the tokenizer's tables now (~1 s), not inside the first step.
  defaultTokenCounter.count("warm up");
  const leases = new LeaseKeeper(
    (held) => renewStepLeases(deps.leaseDb, held, deps.settings.stepLeaseMs),
    leaseRenewalIntervalMs(deps.settings),
    (err) => deps.logger.warn({ err }, "lease renewal failed; will retry"),
  );
  const inFlight = new InFlightCalls(leases);
  const stopListening = await deps.cancelSignals.listen((flowId, reason) => {
    const aborted = inFlight.abortFlow(flowId, reason);
    if (aborted > 0) deps.logger.info({ flowId, reason, aborted }, "aborted running provider calls");
  });
  const concurrency = options.concurrency ?? 50;
  // Once closing, a finished step's next step gets a job instead of running here.
  let closing = false;
  const worker = createJobWorker({
    queue: "steps",
    connection: options.connection,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    concurrency,
    lockDuration: options.lockDuration ?? deps.settings.stepLeaseMs,
    stalledInterval: options.stalledInterval ?? Math.max(1_000, Math.floor(deps.settings.stepLeaseMs / 2)),
    name: `worker:${deps.workerId}`,
    onError: (err) => deps.logger.error({ err }, "step queue error"),
    handlers: {
      "step.run": async (payload, job) => {
        // The later steps of the run this job went on with: its return value (Bull Board shows it).
        const continuedWith: string[] = [];
        const result = await runStep(deps, inFlight, payload, {
          deferFor: (ms) => deferJob(job, ms),
          mayContinue: () => !closing,
          continuedWith: (label) => void continuedWith.push(label),
        });
        return continuedWith.length > 0 ? { result, continuedWith } : result;
      },
    },
  });
  worker.on("failed", (job, err) => deps.logger.warn({ err, jobId: job?.id }, "step job failed"));
  deps.logger.info({ concurrency }, "step worker started");
  return {
    inFlight,
    close: async () => {
      closing = true;
      await closeGracefully(worker);
      await stopListening();
    },
  };
}
