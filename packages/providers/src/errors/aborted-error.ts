import { ProviderError } from "./provider-error.js";

/**
 * The ProviderError for an aborted call. The worker aborts one signal for both a cancel and
 * the step timeout (AbortSignal.any with AbortSignal.timeout); the reason tells them apart,
 * and only a timeout is worth retrying.
 */
export function abortedError(provider: string, signal: AbortSignal, cause?: unknown): ProviderError {
  const reason: unknown = signal.reason;
  // By name, not instanceof: AbortSignal.timeout's DOMException may come from another realm.
  const timedOut =
    typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
  return new ProviderError(timedOut ? `${provider}: call timed out` : `${provider}: call cancelled`, {
    code: timedOut ? "timeout" : "cancelled",
    provider,
    cause: cause ?? reason,
  });
}
