import { isRetryableCode, type ProviderErrorCode } from "./provider-error-code.js";
import { redactSecrets } from "@ensemble/core";

export interface ProviderErrorOptions {
  code: ProviderErrorCode;
  /** The provider key (`openai`, `sim`, …). */
  provider: string;
  /** Default: whether the code is retryable (see isRetryableCode). */
  retryable?: boolean;
  /** The vendor's Retry-After, in ms; the retry waits at least this long. */
  retryAfterMs?: number;
  /** The HTTP status, when the vendor answered with one. */
  status?: number;
  cause?: unknown;
}

/** The plain, secret-free form that may go into logs, job data and step results. */
export interface ProviderErrorJson {
  name: "ProviderError";
  code: ProviderErrorCode;
  message: string;
  provider: string;
  retryable: boolean;
  retryAfterMs?: number;
  status?: number;
}

/**
 * Every failure of a provider call. Its message (and its cause's, see redactCause) is
 * passed through redactSecrets, because these errors end up in logs, step results and
 * API responses, while vendor errors may quote a request that carried a key.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;
  readonly provider: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly status?: number;

  constructor(message: string, options: ProviderErrorOptions) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: redactCause(options.cause) });
    this.code = options.code;
    this.provider = options.provider;
    this.retryable = options.retryable ?? isRetryableCode(options.code);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.status !== undefined) this.status = options.status;
  }

  /** No cause and no stack: JSON.stringify of the error is safe to store or send. */
  toJSON(): ProviderErrorJson {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      provider: this.provider,
      retryable: this.retryable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.status === undefined ? {} : { status: this.status }),
    };
  }
}

/**
 * The cause is kept for debugging, but an Error whose message or stack holds a secret is
 * replaced by a redacted copy (same name and message shape): log serializers print causes.
 */
function redactCause(cause: unknown): unknown {
  if (typeof cause === "string") return redactSecrets(cause);
  // Duck-typed, not instanceof: errors from another realm (vm, DOMException) must be redacted too.
  if (!isErrorLike(cause)) return cause;
  const message = redactSecrets(cause.message);
  const stack = typeof cause.stack === "string" ? redactSecrets(cause.stack) : undefined;
  if (message === cause.message && stack === cause.stack) return cause;
  const copy = new Error(message);
  if (typeof cause.name === "string") copy.name = cause.name;
  copy.stack = stack;
  return copy;
}

function isErrorLike(value: unknown): value is Error {
  return typeof value === "object" && value !== null && typeof (value as { message?: unknown }).message === "string";
}
