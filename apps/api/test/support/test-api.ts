import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Express } from "express";
import { randomUUID } from "node:crypto";
import {
  createEngine,
  createLogger,
  readinessProbe,
  startScheduler,
  startStepWorker,
  type Engine,
  type Runtime,
} from "@ensemble/engine";
import { findFlow, insertApiKey, insertUser, registerProviderWorker, removeProviderWorker } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { closeRedisConnection, createRedisConnection, type Redis } from "@ensemble/queue";
import { createApp } from "../../src/app.js";
import { AdminSessions } from "../../src/auth/admin-sessions.js";
import { generateApiKey } from "../../src/auth/api-keys.js";
import { createRequestGuards, type RequestGuards } from "../../src/guards/request-guards.js";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../../src/http/request-limits.js";
import type { EventStreamSettings } from "../../src/events/event-stream-settings.js";
import { attachFlowWebSocket, type FlowEventStreams } from "../../src/events/flow-events.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestApiOptions {
  adminToken?: string;
  /** Start a scheduler and a step worker in this process, so flows run. Default: true. */
  runFlows?: boolean;
  /** Event stream tunables (heartbeats, slow clients). */
  events?: Partial<EventStreamSettings>;
  /** Vendor variables (e.g. the fake vendors' `env`): their providers join `sim`. */
  providerEnv?: Readonly<Record<string, string>>;
  /** Per-key guards as main.ts has them (rate limit, Idempotency-Key, streams per key), with these limits over the defaults. */
  guards?: Partial<RequestLimits>;
  /** Share another TestApi's database and Redis prefix: a second API process of the same cluster. */
  sameClusterAs?: TestApi;
  /** Express's `trust proxy` (TRUST_PROXY). */
  trustProxy?: boolean | number | string;
  /** KEY_CACHE_TTL_MS; default the API's. */
  keyCacheTtlMs?: number;
}

/**
 * The API wired as main.ts does it (real readiness probe, ADMIN_TOKEN as given, the
 * WebSocket upgrade), in this process, on real Redis (its own prefix) and Postgres (its own
 * database); optionally with a scheduler and a step worker so flows run.
 */
export class TestApi {
  prefix = `test-api-${randomUUID().slice(0, 8)}`;
  baseUrl = "";
  engine!: Engine;
  events!: FlowEventStreams;
  /** The Express app createApp built, as main.ts serves it. */
  app!: Express;
  database!: TestDatabase;
  private server!: Server;
  private readonly runtimes: Runtime[] = [];
  private guardsRedis: Redis | undefined;
  /** False for a TestApi that shares another's database and prefix (that one cleans up). */
  private ownsCluster = true;
  private sessionRedis?: Redis;

  static async start(options: TestApiOptions = {}): Promise<TestApi> {
    const api = new TestApi();
    await api.boot(options);
    return api;
  }

  private async boot(options: TestApiOptions): Promise<void> {
    if (options.sameClusterAs) {
      this.ownsCluster = false;
      this.prefix = options.sameClusterAs.prefix;
      this.database = options.sameClusterAs.database;
    } else {
      this.database = await createTestDatabase();
    }
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? "silent", name: "api-test" });
    this.engine = await createEngine({
      redisUrl: REDIS_URL,
      databaseUrl: this.database.url,
      queuePrefix: this.prefix,
      logger,
      databasePoolSize: 4,
      ...(options.providerEnv ? { providerEnv: options.providerEnv } : {}),
    });
    const { deps } = this.engine;
    if (options.runFlows ?? true) {
      this.runtimes.push(
        await startScheduler(deps, {
          connection: this.engine.workerConnection("scheduler"),
          prefix: this.prefix,
          sweepEveryMs: 60_000,
        }),
      );
      this.runtimes.push(
        await startStepWorker(deps, {
          connection: this.engine.workerConnection("worker"),
          prefix: this.prefix,
          concurrency: 8,
        }),
      );
    } else {
      // No worker here, but the providers are known (a pool scaled to zero): flows are accepted and wait.
      const served = deps.providers.keys().map((key) => ({ key, models: null, limits: {} }));
      await registerProviderWorker(deps.db, "test-api-no-worker", served);
      await removeProviderWorker(deps.db, "test-api-no-worker");
    }
    this.sessionRedis = createRedisConnection({ url: REDIS_URL, role: "producer", name: "api-test-admin-sessions" });
    const adminSessions = new AdminSessions(this.sessionRedis, this.prefix, 3_600);
    let guards: RequestGuards | undefined;
    if (options.guards) {
      this.guardsRedis = createRedisConnection({ url: REDIS_URL, role: "producer", name: "api-test-guards" });
      guards = createRequestGuards(this.guardsRedis, this.prefix, { ...DEFAULT_REQUEST_LIMITS, ...options.guards });
    }
    const app = (this.app = createApp({
      deps,
      adminToken: options.adminToken,
      adminSessions,
      readiness: readinessProbe(deps),
      ...(options.events ? { events: options.events } : {}),
      ...(guards ? { guards } : {}),
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      ...(options.keyCacheTtlMs !== undefined ? { keyCacheTtlMs: options.keyCacheTtlMs } : {}),
    }));
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
  async request<T = Record<string, unknown>>(
    key: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  /** Creates a thread and a flow as `key`, runs it with ?wait=true and returns the result. */
  async runFlow(key: string, definition: unknown, input: string): Promise<Record<string, unknown>> {
    const thread = await this.request<{ id: string }>(key, "POST", "/v1/threads", { title: "ops" });
    const flow = await this.request<{ id: string }>(key, "POST", "/v1/flows", { threadId: thread.body.id, definition });
    if (flow.status !== 201) throw new Error(`create flow: ${flow.status} ${JSON.stringify(flow.body)}`);
    const run = await this.request(key, "POST", `/v1/flows/${flow.body.id}/execute?wait=true`, { input });
    if (run.status !== 200) throw new Error(`execute: ${run.status} ${JSON.stringify(run.body)}`);
    return run.body;
  }

  /** Polls the stored flow until its status is one of `statuses`. */
  async waitForFlowStatus(flowId: string, statuses: string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = (await findFlow(this.engine.deps.db, flowId))?.status;
      if (status && statuses.includes(status)) return;
      if (Date.now() > deadline)
        throw new Error(`flow ${flowId} is ${status}, not ${statuses.join("/")}, after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.events?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const runtime of this.runtimes) await runtime.close();
    await this.engine?.close();
    if (this.guardsRedis) await closeRedisConnection(this.guardsRedis);
    if (this.sessionRedis) await closeRedisConnection(this.sessionRedis);
    if (!this.ownsCluster) return;
    await this.database?.drop();
    await deleteKeys(`${this.prefix}:*`);
  }
}

async function deleteKeys(pattern: string): Promise<void> {
  const redis = createRedisConnection({ url: REDIS_URL, role: "worker", name: "api-test-cleanup" });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit();
  }
}
