import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "@ensemble/queue";
import { redisScript } from "./redis-script.js";

/** What a key holds: a request in flight, or the answer it got. */
export type IdempotencyRecord =
  { state: "in_flight"; fingerprint: string } | { state: "done"; fingerprint: string; status: number; body: string };

export type ClaimResult = { claimed: true; claim: IdempotencyClaim } | { claimed: false; record: IdempotencyRecord };

export interface IdempotencyClaim {
  key: string;
  /** Fences this request's writes: an expired claim taken over by another request is not ours to finish. */
  token: string;
}

// The key is a hash: state, token, fingerprint, and once done status and body.
// Claim: take the key if it is free (atomic: two requests with one key cannot both win).
const CLAIM_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGETALL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'token', ARGV[1], 'fingerprint', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return false
`;
// Extend the claim while the request runs (a process that dies lets it lapse instead of
// blocking the key for the whole retention).
const EXTEND_SCRIPT = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
const COMPLETE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'body', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
`;
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** How long an unfinished claim lives without being extended. */
export const CLAIM_LEASE_MS = 30_000;

/**
 * Idempotency keys in Redis, scoped by user and route. A request claims its key; the answer
 * of a request that succeeded is kept `ttlSeconds`; a failed one releases the key so the
 * client may retry with it.
 */
export class IdempotencyStore {
  private readonly claimScript: (key: string, token: string, fingerprint: string, leaseMs: number) => Promise<unknown>;
  private readonly extendScript: (key: string, token: string, leaseMs: number) => Promise<unknown>;
  private readonly completeScript: (
    key: string,
    token: string,
    status: number,
    body: string,
    ttlMs: number,
  ) => Promise<unknown>;
  private readonly releaseScript: (key: string, token: string) => Promise<unknown>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    readonly ttlSeconds: number,
  ) {
    this.claimScript = redisScript(redis, "ensembleIdempotencyClaimV1", 1, CLAIM_SCRIPT);
    this.extendScript = redisScript(redis, "ensembleIdempotencyExtendV1", 1, EXTEND_SCRIPT);
    this.completeScript = redisScript(redis, "ensembleIdempotencyCompleteV1", 1, COMPLETE_SCRIPT);
    this.releaseScript = redisScript(redis, "ensembleIdempotencyReleaseV1", 1, RELEASE_SCRIPT);
  }

  /** The Redis key for a client's key; the client's key is hashed (any bytes, fixed length). */
  keyFor(userId: string, route: string, idempotencyKey: string): string {
    const scope = createHash("sha256").update(`${userId}\n${route}\n${idempotencyKey}`).digest("hex");
    return `${this.prefix}:idempotency:${scope}`;
  }

  async claim(key: string, fingerprint: string): Promise<ClaimResult> {
    const token = randomBytes(12).toString("hex");
    const existing = await this.claimScript(key, token, fingerprint, CLAIM_LEASE_MS);
    if (!Array.isArray(existing)) return { claimed: true, claim: { key, token } };
    return { claimed: false, record: toRecord(existing as string[]) };
  }

  async extend(claim: IdempotencyClaim): Promise<void> {
    await this.extendScript(claim.key, claim.token, CLAIM_LEASE_MS);
  }

  /** Stores the answer; false when the claim had lapsed and another request holds the key. */
  async complete(claim: IdempotencyClaim, status: number, body: string): Promise<boolean> {
    return (await this.completeScript(claim.key, claim.token, status, body, this.ttlSeconds * 1000)) === 1;
  }

  async release(claim: IdempotencyClaim): Promise<void> {
    await this.releaseScript(claim.key, claim.token);
  }
}

function toRecord(flat: string[]): IdempotencyRecord {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
  const fingerprint = fields.get("fingerprint") ?? "";
  if (fields.get("state") === "done")
    return { state: "done", fingerprint, status: Number(fields.get("status")), body: fields.get("body") ?? "" };
  return { state: "in_flight", fingerprint };
}
