import { findUserByKeyHash, touchApiKey, type Database } from "@ensemble/db";
import type { Logger } from "pino";
import { ApiError } from "../http/api-error.js";
import { bearerToken, hashApiKey } from "./api-keys.js";

/** Default KEY_CACHE_TTL_MS: how long a process trusts a key it looked up. */
export const DEFAULT_KEY_CACHE_TTL_MS = 1_000;
/** `lastUsedAt` is kept to this precision: a busy key costs one write per minute. */
const LAST_USED_PRECISION_MS = 60_000;
/** Bound on remembered keys; the oldest entry goes first. */
const MAX_CACHED_KEYS = 10_000;

export interface KeyOwner {
  userId: string;
  /** The id (not the secret) of the key: per-key limits count by it. */
  apiKeyId: string;
}

interface CachedKey extends KeyOwner {
  expiresAt: number;
}

/**
 * Who an `Authorization: Bearer <key>` header names, for /v1 requests and WebSocket upgrades
 * alike. Keys are looked up by their SHA-256 (a unique index), so the database never compares
 * the secret; unknown and revoked keys get the same 401.
 *
 * A found key is trusted for `ttlMs` without another lookup: a busy key costs one indexed
 * read per process per `ttlMs` instead of one per request. A key revoked through this process
 * is forgotten at once; on other API processes it stops working within `ttlMs`. Unknown keys
 * are never cached, so a new key works on its first request.
 */
export class ApiKeyLookup {
  private readonly found = new Map<string, CachedKey>();

  constructor(
    private readonly db: Database,
    private readonly ttlMs: number = DEFAULT_KEY_CACHE_TTL_MS,
    private readonly logger?: Logger,
  ) {}

  async ownerOf(authorization: string | undefined): Promise<KeyOwner> {
    const token = bearerToken(authorization);
    if (!token) throw new ApiError("unauthorized", "send an API key: Authorization: Bearer <key>");
    const keyHash = hashApiKey(token);
    const cached = this.found.get(keyHash);
    if (cached && cached.expiresAt > Date.now()) return { userId: cached.userId, apiKeyId: cached.apiKeyId };

    const row = await findUserByKeyHash(this.db, keyHash);
    if (!row) {
      this.found.delete(keyHash);
      throw new ApiError("unauthorized", "the API key is unknown or revoked");
    }
    const owner = { userId: row.userId, apiKeyId: row.keyId };
    this.remember(keyHash, owner);
    // Once per lookup, not per request; a failed write only leaves lastUsedAt older.
    await touchApiKey(this.db, row.keyId, LAST_USED_PRECISION_MS).catch((err: unknown) =>
      this.logger?.warn({ err, apiKeyId: row.keyId }, "could not record the key's last use"),
    );
    return owner;
  }

  /** Forgets a revoked key in this process at once. */
  forget(apiKeyId: string): void {
    for (const [keyHash, entry] of this.found) if (entry.apiKeyId === apiKeyId) this.found.delete(keyHash);
  }

  private remember(keyHash: string, owner: KeyOwner): void {
    if (this.ttlMs <= 0) return;
    this.found.delete(keyHash); // re-inserted last: Map order is the eviction order
    if (this.found.size >= MAX_CACHED_KEYS) {
      const oldest = this.found.keys().next().value;
      if (oldest !== undefined) this.found.delete(oldest);
    }
    this.found.set(keyHash, { ...owner, expiresAt: Date.now() + this.ttlMs });
  }
}
