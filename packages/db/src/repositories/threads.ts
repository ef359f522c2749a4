import type { MessageRole, ThreadPermission } from "@ensemble/core";
import { and, arrayContains, asc, count, desc, eq, exists, inArray, or } from "drizzle-orm";
import type { Executor } from "../client.js";
import { dataSharingPolicies, messages, threadMembers, threads } from "../schema/tables.js";
import { newId } from "./ids.js";

export type ThreadRow = typeof threads.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type PolicyRow = typeof dataSharingPolicies.$inferSelect;
export type Permission = ThreadPermission;

export async function insertThread(db: Executor, input: { ownerId: string; title: string }): Promise<ThreadRow> {
  const [row] = await db
    .insert(threads)
    .values({ id: newId(), ...input })
    .returning();
  return row as ThreadRow;
}

export async function findThread(db: Executor, id: string): Promise<ThreadRow | undefined> {
  const [row] = await db.select().from(threads).where(eq(threads.id, id));
  return row;
}

/** The threads a user may read (owns, or is a member with `read`), newest first, a page at a time. */
export async function listReadableThreads(
  db: Executor,
  userId: string,
  page: { limit: number; offset: number },
): Promise<{ items: ThreadRow[]; total: number }> {
  const readable = or(
    eq(threads.ownerId, userId),
    exists(
      db
        .select({ one: threadMembers.threadId })
        .from(threadMembers)
        .where(
          and(
            eq(threadMembers.threadId, threads.id),
            eq(threadMembers.userId, userId),
            arrayContains(threadMembers.permissions, ["read"]),
          ),
        ),
    ),
  );
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(threads)
      .where(readable)
      .orderBy(desc(threads.createdAt), desc(threads.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(threads).where(readable),
  ]);
  return { items, total: total?.n ?? 0 };
}

/** What a user may do on a thread: the owner everything, a member what was granted, others nothing. */
export async function threadPermissions(db: Executor, threadId: string, userId: string): Promise<Permission[]> {
  const thread = await findThread(db, threadId);
  if (!thread) return [];
  if (thread.ownerId === userId) return ["read", "write", "delete"];
  const [member] = await db
    .select({ permissions: threadMembers.permissions })
    .from(threadMembers)
    .where(and(eq(threadMembers.threadId, threadId), eq(threadMembers.userId, userId)));
  return member?.permissions ?? [];
}

export async function upsertThreadMember(
  db: Executor,
  input: { threadId: string; userId: string; permissions: Permission[] },
): Promise<void> {
  await db
    .insert(threadMembers)
    .values(input)
    .onConflictDoUpdate({
      target: [threadMembers.threadId, threadMembers.userId],
      set: { permissions: input.permissions },
    });
}

export async function insertMessage(
  db: Executor,
  input: {
    id?: string;
    threadId: string;
    role: MessageRole;
    content: string;
    provider?: string | null;
    metadata?: Record<string, unknown>;
    stepResultId?: string | null;
  },
): Promise<MessageRow | undefined> {
  // A step result saves at most one message: a redelivered step finds it already there.
  const [row] = await db
    .insert(messages)
    .values({ ...input, id: input.id ?? newId(), metadata: input.metadata ?? {} })
    .onConflictDoNothing({ target: messages.stepResultId })
    .returning();
  return row;
}

export async function listMessages(db: Executor, threadId: string, limit = 1000): Promise<MessageRow[]> {
  return db
    .select()
    .from(messages)
    .where(eq(messages.threadId, threadId))
    .orderBy(asc(messages.createdAt), asc(messages.id))
    .limit(limit);
}

export async function upsertPolicy(db: Executor, input: Omit<PolicyRow, "updatedAt">): Promise<PolicyRow> {
  const flags = {
    allowConversationHistory: input.allowConversationHistory,
    allowCrossProviderContext: input.allowCrossProviderContext,
    allowAttachments: input.allowAttachments,
  };
  const [row] = await db
    .insert(dataSharingPolicies)
    .values(input)
    .onConflictDoUpdate({
      target: [dataSharingPolicies.userId, dataSharingPolicies.providerKey],
      set: { ...flags, updatedAt: new Date() },
    })
    .returning();
  return row as PolicyRow;
}

export async function listPolicies(db: Executor, userId: string): Promise<PolicyRow[]> {
  return db
    .select()
    .from(dataSharingPolicies)
    .where(eq(dataSharingPolicies.userId, userId))
    .orderBy(asc(dataSharingPolicies.providerKey));
}

/**
 * The policies that apply to what `userId` does with a thread's data: theirs and the
 * thread owner's (the same user when they own it). Combine them with `strictestRules`.
 */
export async function listThreadPolicies(db: Executor, threadId: string, userId: string): Promise<PolicyRow[]> {
  const thread = await findThread(db, threadId);
  const users = [...new Set([userId, ...(thread ? [thread.ownerId] : [])])];
  return db
    .select()
    .from(dataSharingPolicies)
    .where(inArray(dataSharingPolicies.userId, users))
    .orderBy(asc(dataSharingPolicies.providerKey));
}

/**
 * SQL for a JSON array of the policies that apply to a run of flow `flowSql`: those of
 * its thread's owner and of `executorSql` (by default who executed the run; the creator
 * for a run recorded before executors were). Read in the statements on a step's path.
 */
export function runPoliciesSql(flowSql: string, executorSql = "coalesce(rf.executed_by, rf.user_id)"): string {
  return `(select coalesce(json_agg(p order by p.provider_key, p.user_id), '[]'::json)
    from flows rf join threads rt on rt.id = rf.thread_id join data_sharing_policies p on p.user_id in (rt.owner_id, ${executorSql})
    where rf.id = ${flowSql})`;
}
