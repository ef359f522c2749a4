import type { HeldStepLease } from "@ensemble/db";
import type { LeaseKeeper } from "./lease-keeper.js";

/**
 * The provider calls this process is running, by flow, so a cluster-wide cancel
 * (or a lost lease) can abort them: the worker registers each call's controller and
 * lease, and the leases are kept alive together (LeaseKeeper).
 */
export class InFlightCalls {
  private readonly byFlow = new Map<string, Set<AbortController>>();
  private readonly byProvider = new Map<string, number>();

  constructor(private readonly leases: LeaseKeeper) {}

  /** Until the returned function is called: the call can be aborted by flow, and its lease is renewed (a lost one aborts it). */
  track(flowId: string, controller: AbortController, lease: HeldStepLease, provider?: string): () => void {
    let calls = this.byFlow.get(flowId);
    if (!calls) this.byFlow.set(flowId, (calls = new Set()));
    calls.add(controller);
    const release = this.leases.hold(lease, () => controller.abort(new FlowAbortedError("lease_lost")));
    if (provider) this.byProvider.set(provider, (this.byProvider.get(provider) ?? 0) + 1);
    return () => {
      release();
      calls.delete(controller);
      if (calls.size === 0) this.byFlow.delete(flowId);
      if (provider) this.byProvider.set(provider, (this.byProvider.get(provider) ?? 1) - 1);
    };
  }

  /** Calls in flight per provider (the worker's `ensemble_steps_in_flight`). */
  countByProvider(): Map<string, number> {
    return new Map(this.byProvider);
  }

  /** Aborts every call of a flow; returns how many there were. */
  abortFlow(flowId: string, reason: string): number {
    const calls = this.byFlow.get(flowId);
    if (!calls) return 0;
    for (const controller of calls) controller.abort(new FlowAbortedError(reason));
    return calls.size;
  }

  get size(): number {
    let n = 0;
    for (const calls of this.byFlow.values()) n += calls.size;
    return n;
  }
}

/** The abort reason when a flow is cancelled, timed out or failed elsewhere. */
export class FlowAbortedError extends Error {
  override readonly name = "FlowAbortedError";
  constructor(readonly reason: string) {
    super(`flow ${reason}`);
  }
}
