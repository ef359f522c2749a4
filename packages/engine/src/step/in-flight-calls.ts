/**
 * The provider calls this process is running, by flow, so a cluster-wide cancel
 * (or a lost lease) can abort them: the worker registers each call's controller.
 */
export class InFlightCalls {
  private readonly byFlow = new Map<string, Set<AbortController>>();

  track(flowId: string, controller: AbortController): () => void {
    let calls = this.byFlow.get(flowId);
    if (!calls) this.byFlow.set(flowId, (calls = new Set()));
    calls.add(controller);
    return () => {
      calls.delete(controller);
      if (calls.size === 0) this.byFlow.delete(flowId);
    };
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
