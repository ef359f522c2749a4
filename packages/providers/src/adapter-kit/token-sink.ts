import { abortedError } from "../errors/aborted-error.js";

/** Marks an exception thrown by the caller's onToken, so the adapter rethrows it as it was. */
export class CallerCallbackError extends Error {
  override readonly name = "CallerCallbackError";
  constructor(readonly original: unknown) {
    super("onToken threw");
  }
}

/**
 * The caller's onToken, wrapped for a streaming loop: an empty delta is skipped; after an abort
 * nothing more is delivered (the loop stops with the abort error); and what the callback throws
 * is wrapped in CallerCallbackError, which runVendorCall unwraps. Without the mark, the caller's
 * own exception would be classified as a vendor failure (and perhaps retried).
 */
export function tokenSink(
  provider: string,
  signal: AbortSignal,
  onToken: ((delta: string) => void) | undefined,
): (delta: string) => void {
  return (delta) => {
    if (signal.aborted) throw abortedError(provider, signal);
    if (!onToken || delta === "") return;
    try {
      onToken(delta);
    } catch (err) {
      throw new CallerCallbackError(err);
    }
  };
}
