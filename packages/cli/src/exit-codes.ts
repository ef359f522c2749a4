/** What `ensemble` exits with: scripts branch on the run's outcome without parsing output. */
export const EXIT = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  runCancelled: 3,
  runTimedOut: 4,
  /** The API could not be reached, refused the key, or answered an error. */
  apiError: 5,
} as const;

export function exitCodeForStatus(status: string): number {
  switch (status) {
    case "completed":
      return EXIT.ok;
    case "cancelled":
      return EXIT.runCancelled;
    case "timed_out":
      return EXIT.runTimedOut;
    default:
      return EXIT.runFailed;
  }
}

/** A mistake in the command line or its files: the message says what to change. */
export class UsageError extends Error {}
