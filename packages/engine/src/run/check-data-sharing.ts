import { findPolicyViolations, type CompiledFlow } from "@ensemble/core";
import { listPolicies, type Executor, type PolicyRow } from "@ensemble/db";
import { PolicyViolationError } from "../errors/engine-errors.js";

/**
 * Refuses a flow whose requests would break its owner's data-sharing policies, where
 * that can be known before running (at create and again at execute: policies change).
 * Paths name the definition's fields, as validation errors do.
 */
export async function assertDataSharingAllowed(db: Executor, ownerId: string, flow: CompiledFlow): Promise<void> {
  assertPoliciesAllow(await listPolicies(db, ownerId), flow);
}

/** The same check against policies already read. */
export function assertPoliciesAllow(policies: PolicyRow[], flow: CompiledFlow): void {
  const violations = findPolicyViolations(flow, policies);
  if (violations.length > 0) throw new PolicyViolationError(violations.map((v) => ({ ...v, path: `definition.${v.path}` })));
}
