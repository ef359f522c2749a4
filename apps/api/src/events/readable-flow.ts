import { findFlow, findUserByKeyHash, type Database, type FlowRow } from "@ensemble/db";
import { bearerToken, hashApiKey } from "../auth/api-keys.js";
import { ApiError } from "../http/api-error.js";
import { requireThreadPermission } from "../http/thread-access.js";

/** The flow whose events the caller wants: events are its results, so they need read (404 for a non-member, 403 for a member without it). */
export async function loadReadableFlow(db: Database, flowId: string, userId: string): Promise<FlowRow> {
  const flow = await findFlow(db, flowId);
  if (!flow) throw new ApiError("not_found", "flow not found");
  await requireThreadPermission(db, flow.threadId, userId, "read", "flow");
  return flow;
}

/**
 * The user an `Authorization: Bearer <key>` header names, for the WebSocket upgrade
 * (which bypasses Express's /v1 middleware): the same lookup and the same 401s.
 */
export async function userForAuthorization(
  db: Database,
  header: string | undefined,
): Promise<{ userId: string; apiKeyId: string }> {
  const token = bearerToken(header);
  if (!token) throw new ApiError("unauthorized", "send an API key: Authorization: Bearer <key>");
  const found = await findUserByKeyHash(db, hashApiKey(token));
  if (!found) throw new ApiError("unauthorized", "the API key is unknown or revoked");
  return { userId: found.userId, apiKeyId: found.keyId };
}
