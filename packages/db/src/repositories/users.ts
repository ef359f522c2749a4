import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Executor } from "../client.js";
import { apiKeys, users } from "../schema/tables.js";
import { newId } from "./ids.js";

export type UserRow = typeof users.$inferSelect;

export async function insertUser(db: Executor, input: { id?: string; name: string }): Promise<UserRow> {
  const [row] = await db
    .insert(users)
    .values({ id: input.id ?? newId(), name: input.name })
    .returning();
  return row as UserRow;
}

export async function findUser(db: Executor, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function insertApiKey(
  db: Executor,
  input: { userId: string; keyHash: string; prefix: string },
): Promise<{ id: string }> {
  const id = newId();
  await db.insert(apiKeys).values({ id, ...input });
  return { id };
}

/** The user owning an active (not revoked) key with this hash. */
export async function findUserByKeyHash(
  db: Executor,
  keyHash: string,
): Promise<{ userId: string; keyId: string } | undefined> {
  const [row] = await db
    .select({ userId: apiKeys.userId, keyId: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
  return row;
}

/**
 * Records that a key was used: only when the stored time is older than `coarserThanMs`, so a
 * busy key costs one write per that interval, not one per request.
 */
export async function touchApiKey(db: Executor, keyId: string, coarserThanMs: number): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(apiKeys.id, keyId),
        sql`(${apiKeys.lastUsedAt} is null or ${apiKeys.lastUsedAt} < now() - make_interval(secs => ${coarserThanMs / 1000}))`,
      ),
    );
}

export async function revokeApiKey(db: Executor, keyId: string): Promise<void> {
  await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, keyId));
}

/** A key as an administrator sees it: never the secret nor its hash. */
export interface ApiKeySummary {
  id: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const keySummary = {
  id: apiKeys.id,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
  lastUsedAt: apiKeys.lastUsedAt,
};

/** A user's keys, revoked ones included, newest first. */
export async function listApiKeys(db: Executor, userId: string): Promise<ApiKeySummary[]> {
  return db
    .select(keySummary)
    .from(apiKeys)
    .where(eq(apiKeys.userId, userId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

/**
 * Revokes one of a user's keys: from now on it authenticates nothing. Revoking a revoked
 * key keeps its first revocation time. Undefined when the user has no such key.
 */
export async function revokeUserApiKey(
  db: Executor,
  userId: string,
  keyId: string,
): Promise<ApiKeySummary | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.userId, userId), eq(apiKeys.id, keyId)))
    .returning(keySummary);
  return row;
}
