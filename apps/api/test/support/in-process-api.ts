import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import { createEngine, createLogger, startScheduler, startStepWorker, type Engine, type Runtime } from "@ensemble/engine";
import { insertApiKey, insertUser } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { createApp } from "../../src/app.js";
import { generateApiKey } from "../../src/auth/api-keys.js";
import type { EventStreamSettings } from "../../src/events/event-stream-settings.js";
import { attachFlowWebSocket, type FlowEventStreams } from "../../src/events/flow-events.js";

/**
 * The API as main.ts wires it, in this process, with a real scheduler and step worker
 * on real Redis (its own prefix) and Postgres (its own database).
 */
export class InProcessApi {
  readonly prefix = `test-api-${randomUUID().slice(0, 8)}`;
  baseUrl = "";
  engine!: Engine;
  events!: FlowEventStreams;
  private database!: TestDatabase;
  private server!: Server;
  private runtimes: Runtime[] = [];

  static async start(events: Partial<EventStreamSettings> = {}): Promise<InProcessApi> {
    const api = new InProcessApi();
    await api.boot(events);
    return api;
  }

  private async boot(events: Partial<EventStreamSettings>): Promise<void> {
    this.database = await createTestDatabase();
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? "silent", name: "api-test" });
    this.engine = await createEngine({ redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", databaseUrl: this.database.url, queuePrefix: this.prefix, logger, databasePoolSize: 4 });
    const { deps } = this.engine;
    this.runtimes.push(await startScheduler(deps, { connection: this.engine.workerConnection("scheduler"), prefix: this.prefix, sweepEveryMs: 60_000 }));
    this.runtimes.push(await startStepWorker(deps, { connection: this.engine.workerConnection("worker"), prefix: this.prefix, concurrency: 8 }));
    const app = createApp({ deps, adminToken: undefined, readiness: async () => ({ redis: true, postgres: true }), events });
    this.server = app.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => this.server.once("listening", resolve));
    this.events = attachFlowWebSocket(this.server, app);
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new user and an API key for them. */
  async createUser(id = `u-${randomUUID().slice(0, 8)}`): Promise<{ userId: string; key: string }> {
    await insertUser(this.engine.deps.db, { id, name: id });
    const { key, prefix, hash } = generateApiKey();
    await insertApiKey(this.engine.deps.db, { userId: id, keyHash: hash, prefix });
    return { userId: id, key };
  }

  /** Calls the JSON API as `key`. */
  async request<T = Record<string, unknown>>(key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  async stop(): Promise<void> {
    this.events?.close();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const runtime of this.runtimes) await runtime.close();
    await this.engine?.close();
    await this.database?.drop();
  }
}
