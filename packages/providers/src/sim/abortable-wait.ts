import { abortedError } from "../errors/aborted-error.js";

/**
 * Resolves after `ms`, or rejects with the provider's cancelled/timeout error as soon as the
 * signal aborts; either way the timer and the listener are gone, so nothing keeps running.
 */
export function waitMs(ms: number, signal: AbortSignal, provider: string): Promise<void> {
  if (signal.aborted) return Promise.reject(abortedError(provider, signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(provider, signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Never resolves; rejects when the signal aborts. Holds no timer, only the abort listener. */
export function waitForAbort(signal: AbortSignal, provider: string): Promise<never> {
  if (signal.aborted) return Promise.reject(abortedError(provider, signal));
  return new Promise<never>((_resolve, reject) => {
    signal.addEventListener("abort", () => reject(abortedError(provider, signal)), { once: true });
  });
}

/** Throws the abort error when the signal is already aborted (between synchronous steps). */
export function throwIfAborted(signal: AbortSignal, provider: string): void {
  if (signal.aborted) throw abortedError(provider, signal);
}
