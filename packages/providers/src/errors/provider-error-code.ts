/** Every way a provider call can fail, as the worker and the API see it. */
export const PROVIDER_ERROR_CODES = [
  "rate_limited",
  "timeout",
  "server_error",
  "connection_error",
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "cancelled",
  "unknown_provider",
  "invalid_response",
] as const;

export type ProviderErrorCode = (typeof PROVIDER_ERROR_CODES)[number];

/**
 * Whether a code is worth another attempt when nothing more specific is known (a vendor's
 * `x-should-retry` header can override it). Transient vendor or network trouble is; a request
 * the vendor rejected, a cancel, or an answer we cannot read would fail the same way again.
 */
export function isRetryableCode(code: ProviderErrorCode): boolean {
  switch (code) {
    case "rate_limited":
    case "timeout":
    case "server_error":
    case "connection_error":
      return true;
    case "bad_request":
    case "unauthorized":
    case "forbidden":
    case "not_found":
    case "cancelled":
    case "unknown_provider":
    case "invalid_response":
      return false;
    default: {
      const unhandled: never = code;
      throw new Error(`unhandled provider error code: ${String(unhandled)}`);
    }
  }
}
