import { abortedError } from "../errors/aborted-error.js";
import { toProviderError } from "../errors/classify-http-error.js";
import { CallerCallbackError } from "./token-sink.js";

export interface VendorCallOptions {
  provider: string;
  signal: AbortSignal;
  /** Reads the vendor's own message (and, for Gemini, its RetryInfo) out of an SDK error. */
  describeError?: (err: unknown) => { vendorMessage?: string; retryAfterMs?: number } | undefined;
}

/**
 * Runs one SDK call under the adapter contract: it rejects only with a ProviderError (the
 * caller's own onToken exception excepted, rethrown as it was), and as soon as the signal
 * aborts, whether or not the SDK has noticed yet. The SDK gets the same signal, so it closes
 * the connection; its late rejection is swallowed.
 */
export async function runVendorCall<T>(options: VendorCallOptions, call: () => Promise<T>): Promise<T> {
  const { provider, signal } = options;
  if (signal.aborted) throw abortedError(provider, signal);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(abortedError(provider, signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  const running = call();
  running.catch(() => undefined);
  try {
    return await Promise.race([running, aborted]);
  } catch (err) {
    if (err instanceof CallerCallbackError) throw err.original;
    throw toProviderError(provider, err, { signal, ...options.describeError?.(err) });
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}
