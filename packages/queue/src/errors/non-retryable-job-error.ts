/**
 * Thrown by a job handler to fail its job at once, without BullMQ's infrastructure
 * retries (the worker maps it to BullMQ's `UnrecoverableError`). Use it when another
 * attempt cannot succeed: the flow no longer exists, the run was superseded, and so on.
 */
export class NonRetryableJobError extends Error {
  override readonly name = "NonRetryableJobError";
  /** Machine-readable reason, e.g. `flow_not_found`. */
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}
