import { DelayedError, type Job } from "bullmq";

/**
 * Puts the job being processed back in the delayed set to run again after `ms`,
 * without spending one of its attempts (e.g. another worker holds the step's lease).
 */
export async function deferJob(job: Job, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + Math.max(ms, 0), job.token);
  throw new DelayedError();
}
