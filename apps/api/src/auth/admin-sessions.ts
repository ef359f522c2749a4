import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "@ensemble/queue";
import { whenReady } from "../guards/redis-script.js";

/**
 * Bull Board's browser logins: `GET /admin/login` trades the ADMIN_TOKEN for a random
 * session id, which is all the cookie holds, so the token itself never sits in a browser
 * and a session can end (logout, TTL) without rotating it. Redis keeps the id's SHA-256
 * (a copy of Redis holds no usable id), under the API's prefix, so every API process
 * accepts a session any of them made.
 */
export class AdminSessions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** How long a login lasts; the cookie's Max-Age is the same. */
    readonly ttlSeconds: number,
  ) {}

  async create(): Promise<string> {
    const id = randomBytes(32).toString("base64url");
    await whenReady(this.redis, "admin session");
    await this.redis.set(this.key(id), "1", "EX", this.ttlSeconds);
    return id;
  }

  async isValid(id: string): Promise<boolean> {
    await whenReady(this.redis, "admin session");
    return (await this.redis.exists(this.key(id))) === 1;
  }

  async end(id: string): Promise<void> {
    await whenReady(this.redis, "admin session");
    await this.redis.del(this.key(id));
  }

  private key(id: string): string {
    return `${this.prefix}:admin-session:${createHash("sha256").update(id).digest("hex")}`;
  }
}
