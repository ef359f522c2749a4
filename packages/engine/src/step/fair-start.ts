import { deferJob, type InFlightSlot, type Job, type JobPayload } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";
import type { LeaseKeeper } from "./lease-keeper.js";

/** A step over its user's cap comes back after this, doubling each time it is refused, up to MAX_CAP_RETRY_MS. */
const FIRST_CAP_RETRY_MS = 250;
const MAX_CAP_RETRY_MS = 8_000;

/** How long a step job refused `starts` times (BullMQ's attemptsStarted, this start included) waits before it tries again. */
export function capRetryMs(starts: number): number {
  const doubled = FIRST_CAP_RETRY_MS * 2 ** Math.min(Math.max(starts - 1, 0), 10);
  // Jitter: the refused steps of a user do not all come back in the same millisecond.
  return Math.min(doubled, MAX_CAP_RETRY_MS) + Math.floor(Math.random() * FIRST_CAP_RETRY_MS);
}

const NO_SLOT: InFlightSlot = { renew: async () => undefined, release: async () => undefined };

/**
 * A worker starts a step job: it leaves its user's waiting rank, and when the user has a
 * `maxInFlightSteps` it takes one of their slots for as long as the job runs (its continued
 * steps included). A user at the cap gets the job back in the delayed set before anything is
 * claimed or called: it is not failed and costs no attempt. Returns the slot to release.
 */
export async function startStepFairly(
  deps: EngineDeps,
  payload: JobPayload<"step.run">,
  job: Job,
  /** The worker's lease heartbeat, which renews the slot while the job runs. */
  leases: Pick<LeaseKeeper, "renewAlongside">,
): Promise<{ release(): Promise<void> }> {
  const { dispatch } = payload;
  if (!dispatch || !job.id) return NO_SLOT;
  const fairShare = deps.producer.fairShare;
  const cap = await deps.spendCaps.maxInFlightSteps(dispatch.userId);
  if (cap === null && !fairShare.enabled) return NO_SLOT;
  const admission = await fairShare.start(job.queueName, job.id, dispatch, cap, deps.settings.stepLeaseMs);
  if (!admission.admitted) {
    deps.logger.debug(
      { userId: dispatch.userId, maxInFlightSteps: cap, jobId: job.id },
      "step waits for its user's cap",
    );
    deps.observer?.userCapWait();
    return deferJob(job, capRetryMs(job.attemptsStarted));
  }
  const { slot } = admission;
  if (cap === null) return slot;
  // Renewed on the leases' heartbeat: a worker that dies stops renewing, and its slots lapse within one lease.
  const stopRenewing = leases.renewAlongside(() => {
    slot.renew().catch((err: unknown) => deps.logger.warn({ err, jobId: job.id }, "in-flight slot renewal failed"));
  });
  return {
    release: async () => {
      stopRenewing();
      await slot
        .release()
        .catch((err: unknown) =>
          deps.logger.warn({ err, jobId: job.id }, "in-flight slot not released; it lapses with the lease"),
        );
    },
  };
}
