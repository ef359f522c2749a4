import type { Database, FlowRow } from "@ensemble/db";
import { requireFlowPermission } from "../http/thread-access.js";

/** The flow whose events the caller wants: events are its results, so they need read (404 for a non-member, 403 for a member without it). */
export function loadReadableFlow(db: Database, flowId: string, userId: string): Promise<FlowRow> {
  return requireFlowPermission(db, flowId, userId, "read");
}
