import type { StepError, TokenUsage } from "@ensemble/core";

/** How one attempt of a step ended, before it is committed. */
export type StepOutcome =
  | { status: "success"; output: string; usage: TokenUsage; cost: number | null; provider: string; model: string }
  | {
      status: "failed";
      error: StepError & { retryAfterMs?: number };
      usage?: TokenUsage;
      cost?: number | null;
      provider: string;
      model: string;
    }
  | { status: "skipped"; reason: string }
  /** The call was aborted because the flow ended or the lease was lost: nothing to commit. */
  | { status: "aborted"; reason: string }
  /** Not called: the provider is over a cluster-wide rate limit; run again after `retryInMs`. */
  | { status: "deferred"; retryInMs: number; limit: string };
