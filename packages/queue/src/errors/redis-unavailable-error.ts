/**
 * Redis could not be reached (refused, timed out, offline, or the connection is closed).
 *
 * Producers fail fast with this instead of queueing commands in memory, so an API can
 * answer 503 while Redis is down rather than hang its requests.
 */
export class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
  /** What we were doing when Redis was unavailable, e.g. `add step.run`. */
  readonly operation: string | undefined;

  constructor(message: string, options: { cause?: unknown; operation?: string } = {}) {
    super(message, { cause: options.cause });
    this.operation = options.operation;
  }
}
