/**
 * What the engine tells the process it runs in, for its /metrics (see ProcessMetrics). Each
 * call is a counter increment: cheap, synchronous, never throws.
 */
export interface EngineObserver {
  /** A step lease heartbeat: `held` (renewed), `lost` (another worker took the step) or `error` (the database did not answer). */
  leaseRenewal(outcome: "held" | "lost" | "error"): void;
  /** A claim took over a running step whose lease had expired (its worker died or stalled). */
  leaseTakeover(provider: string): void;
  /** A step was put back to wait for a provider rate limit. */
  rateLimitWait(provider: string): void;
  /** A step job was put back because its user has `maxInFlightSteps` steps running. */
  userCapWait(): void;
  /** A job of this BullMQ queue completed in this process. */
  jobProcessed(queue: string): void;
  /** A job attempt of this BullMQ queue failed in this process. */
  jobFailed(queue: string): void;
}
