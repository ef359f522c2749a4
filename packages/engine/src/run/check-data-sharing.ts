import { findPolicyViolations, strictestRules, type CompiledFlow, type DataSharingRule } from "@ensemble/core";
import { listThreadPolicies, type Executor } from "@ensemble/db";
import { PolicyViolationError } from "../errors/engine-errors.js";

/**
 * Refuses a flow whose requests would break the data-sharing policies of the thread's
 * owner or of the user acting on it (the strictest wins), where that can be known
 * before running (at create and again at execute: policies change).
 * Paths name the definition's fields, as validation errors do.
 */
export async function assertDataSharingAllowed(
  db: Executor,
  threadId: string,
  userId: string,
  flow: CompiledFlow,
): Promise<void> {
  assertPoliciesAllow(strictestRules(await listThreadPolicies(db, threadId, userId)), flow);
}

/** The same check against rules already read and combined. */
export function assertPoliciesAllow(rules: readonly DataSharingRule[], flow: CompiledFlow): void {
  const violations = findPolicyViolations(flow, rules);
  if (violations.length > 0)
    throw new PolicyViolationError(violations.map((v) => ({ ...v, path: `definition.${v.path}` })));
}
