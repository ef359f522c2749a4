import {
  claimStepsWithContext,
  claimStepWithContext,
  type ClaimedStep,
  type ClaimStepInput,
  type Executor,
} from "@ensemble/db";
import type { Logger } from "pino";
import { GroupCommit } from "./group-commit.js";

export interface StepClaimsOptions {
  /** The lease pool (claims and lease renewals: what keeps a worker's steps alive). */
  db: Executor;
  logger: Logger;
  /** At most this many claims per statement. */
  maxBatch?: number;
}

/**
 * Group commit for step claims: the claims a worker makes while a batch is being written,
 * or in the same turn of the event loop (a fan-out's siblings fetched together), go in one
 * statement — one COMMIT, each run and its policies read once — and each claim's promise
 * settles with its own answer. A lone claim waits for nothing but the next turn. If a batch
 * fails (a deadlock with another worker claiming the same instances), each claim is tried
 * alone, so one claim's error is its own.
 */
export class StepClaims {
  private readonly batches: GroupCommit<ClaimStepInput, ClaimedStep | undefined>;

  constructor(private readonly options: StepClaimsOptions) {
    this.batches = new GroupCommit({
      maxBatch: options.maxBatch ?? 64,
      // The same instance twice (a job delivered twice) never shares a statement: the second waits for the next.
      key: (c) => `${c.flowId}\u0000${c.run}\u0000${c.stepId}\u0000${c.iteration}\u0000${c.attempt}`,
      commit: (claims) => this.claimBatch(claims),
    });
  }

  /** Takes the instance's lease (see `claimStepWithContext`); undefined when it cannot be claimed. */
  claim(input: ClaimStepInput): Promise<ClaimedStep | undefined> {
    return this.batches.submit(input);
  }

  private async claimBatch(claims: ClaimStepInput[]): Promise<PromiseSettledResult<ClaimedStep | undefined>[]> {
    const { db, logger } = this.options;
    if (claims.length === 1) return Promise.allSettled([claimStepWithContext(db, claims[0] as ClaimStepInput)]);
    try {
      const claimed = await claimStepsWithContext(db, claims);
      return claimed.map((value) => ({ status: "fulfilled", value }));
    } catch (err) {
      logger.warn({ err, claims: claims.length }, "group claim of steps failed; each is claimed on its own");
      return Promise.allSettled(claims.map((c) => claimStepWithContext(db, c)));
    }
  }
}
