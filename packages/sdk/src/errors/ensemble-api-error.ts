/** The error codes the API answers with (docs/api.md); a newer server may send others. */
export type EnsembleErrorCode =
  | "validation_error"
  | "unauthorized"
  | "budget_exceeded"
  | "forbidden"
  | "policy_violation"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "internal"
  | "unavailable";

/** One problem the API found, e.g. `{ path: "definition.steps[2].condition", message }`. */
export interface EnsembleErrorDetail {
  path?: string;
  message?: string;
  [key: string]: unknown;
}

/**
 * The API refused or failed a request: `status` is the HTTP status, `code` the API's
 * error code (`not_found`, `validation_error`, …), `details` what it named (for a 400,
 * each bad field by its path). `retryAfterMs` is set from a `Retry-After` header (402: until the spend cap resets; 429, 503).
 */
export class EnsembleApiError extends Error {
  override readonly name = "EnsembleApiError";

  constructor(
    readonly status: number,
    readonly code: EnsembleErrorCode | (string & {}),
    message: string,
    readonly details: EnsembleErrorDetail[] = [],
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for an EnsembleApiError, optionally with one of the given codes. */
export function isEnsembleApiError(error: unknown, ...codes: EnsembleErrorCode[]): error is EnsembleApiError {
  return error instanceof EnsembleApiError && (codes.length === 0 || codes.includes(error.code as EnsembleErrorCode));
}
