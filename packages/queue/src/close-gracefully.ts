import type { Worker } from "bullmq";

export interface CloseGracefullyOptions {
  /** How long to let active jobs finish before aborting their signals. Default: 25000 ms
   * (under Kubernetes' 30 s termination grace period). */
  timeoutMs?: number;
  /** After aborting, how long to wait for handlers to notice. Default: 2000 ms. */
  abortGraceMs?: number;
}

export interface CloseGracefullyResult {
  /** True if every active job finished (or aborted) in time; false if some were left running.
   * Those stall and another worker retries them, so exiting anyway loses nothing. */
  drained: boolean;
}

function sleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Stops fetching new jobs and waits for active ones (call it on SIGTERM). If they outlast
 * `timeoutMs`, their AbortSignals fire so provider calls stop, and after `abortGraceMs`
 * it returns regardless.
 */
export async function closeGracefully(
  worker: Worker,
  options: CloseGracefullyOptions = {},
): Promise<CloseGracefullyResult> {
  const closing = worker.close().then(
    () => true,
    () => true, // close() reports its own failures through the worker's 'error' event
  );
  const patience = sleep(options.timeoutMs ?? 25_000);
  const finished = await Promise.race([closing, patience.promise.then(() => false)]);
  patience.cancel();
  if (finished) return { drained: true };

  worker.cancelAllJobs("worker shutting down");
  const grace = sleep(options.abortGraceMs ?? 2_000);
  const finishedAfterAbort = await Promise.race([closing, grace.promise.then(() => false)]);
  grace.cancel();
  return { drained: finishedAfterAbort };
}
