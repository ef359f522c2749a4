import type { CompiledFlow } from "@ensemble/core";
import type { RunDeps } from "@ensemble/engine";
import { findFlow, threadPermissions, type Database, type FlowRow, type Permission } from "@ensemble/db";
import { ApiError } from "./api-error.js";

/**
 * Checks permissions on a thread. A thread the caller has no part in does not exist for
 * them (404, not 403); a member missing a permission gets 403 naming it (details
 * `[{ permission, reason? }]`, the reason saying why this request needs it).
 */
export async function requireThreadPermission(
  db: Database,
  threadId: string,
  userId: string,
  needed: Permission | readonly Permission[],
  resource = "thread",
  reason?: string,
): Promise<void> {
  const granted = await threadPermissions(db, threadId, userId);
  if (granted.length === 0) throw new ApiError("not_found", `${resource} not found`);
  const missing = (typeof needed === "string" ? [needed] : needed).filter((p) => !granted.includes(p));
  if (missing.length === 0) return;
  throw new ApiError(
    "forbidden",
    `you need ${missing.join(" and ")} permission on this thread${reason ? `: ${reason}` : ""}`,
    missing.map((permission) => ({ permission, ...(reason ? { reason } : {}) })),
  );
}

/** A flow the caller may act on with `needed`; 404 for a flow in a thread they have no part in. */
export async function requireFlowPermission(
  db: Database,
  flowId: string,
  userId: string,
  needed: Permission,
): Promise<FlowRow> {
  const flow = await findFlow(db, flowId);
  if (!flow) throw new ApiError("not_found", "flow not found");
  await requireThreadPermission(db, flow.threadId, userId, needed, "flow");
  return flow;
}

/**
 * What executing a flow needs on its thread, and why: write; and read as well when the
 * run shares the thread's history (its requests and outputs carry that history) or when
 * the response carries the run's result (`?wait=true`) — both are reading the thread.
 */
export function permissionsToExecute(
  flow: CompiledFlow,
  returnsResult: boolean,
): { needed: Permission[]; reason?: string } {
  if (flow.policy.shareConversationHistory)
    return {
      needed: ["write", "read"],
      reason: "the flow shares the thread's history (contextPolicy.shareConversationHistory)",
    };
  if (returnsResult) return { needed: ["write", "read"], reason: "wait=true returns the run's results" };
  return { needed: ["write"] };
}

/** A flow the caller may execute: write, and read when the run reads the thread (see permissionsToExecute). */
export async function requireFlowToExecute(
  deps: RunDeps,
  flowId: string,
  userId: string,
  returnsResult: boolean,
): Promise<FlowRow> {
  const flow = await requireFlowPermission(deps.db, flowId, userId, "write");
  const { needed, reason } = permissionsToExecute(
    deps.flows.forRun({ id: flow.id, definition: flow.definition, onlyStepId: null }),
    returnsResult,
  );
  await requireThreadPermission(deps.db, flow.threadId, userId, needed, "flow", reason);
  return flow;
}
