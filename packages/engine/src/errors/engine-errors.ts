import type { PolicyViolation } from "@ensemble/core";

/** The request conflicts with the flow's state (executing a running flow, deleting one). Maps to 409. */
export class FlowConflictError extends Error {
  override readonly name = "FlowConflictError";
  constructor(
    message: string,
    readonly flowId: string,
    readonly status: string,
  ) {
    super(message);
  }
}

/** The thing does not exist, or the caller may not see it. Maps to 404. */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  constructor(readonly resource: string) {
    super(`${resource} not found`);
  }
}

/** The caller can see it but may not do this. Maps to 403. */
export class ForbiddenError extends Error {
  override readonly name = "ForbiddenError";
}

/** The flow would send data a data-sharing policy forbids. Maps to 403 `policy_violation`. */
export class PolicyViolationError extends Error {
  override readonly name = "PolicyViolationError";
  constructor(readonly violations: readonly PolicyViolation[]) {
    super(
      violations.length === 1
        ? (violations[0] as PolicyViolation).message
        : `${violations.length} steps would break a data-sharing policy`,
    );
  }
}
