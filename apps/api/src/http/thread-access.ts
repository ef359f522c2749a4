import { threadPermissions, type Database, type Permission } from "@ensemble/db";
import { ApiError } from "./api-error.js";

/**
 * Checks a permission on a thread. What the caller cannot read does not exist for
 * them (404, not 403); what they can read but not change is 403.
 */
export async function requireThreadPermission(db: Database, threadId: string, userId: string, needed: Permission, resource = "thread"): Promise<void> {
  const granted = await threadPermissions(db, threadId, userId);
  if (!granted.includes("read") && !granted.includes(needed)) throw new ApiError("not_found", `${resource} not found`);
  if (!granted.includes(needed)) throw new ApiError("forbidden", `you need ${needed} permission on this thread`);
}
