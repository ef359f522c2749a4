import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import { createEngine, createLogger, type CatalogMembership, type Engine } from "@ensemble/engine";
import { findFlow, insertApiKey, insertUser } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { closeRedisConnection, createRedisConnection, type Redis } from "@ensemble/queue";
import { createApp } from "../src/app.js";
import { generateApiKey } from "../src/auth/api-keys.js";
import { createRequestGuards } from "../src/guards/request-guards.js";
import { DEFAULT_REQUEST_LIMITS } from "../src/http/request-limits.js";

// Prototype pollution can only be seen inside the process that parsed the body, so this
// runs the API in this process (real Redis and Postgres) and looks at Object.prototype.

const POLLUTERS = ['"__proto__":{"polluted":"yes"}', '"constructor":{"prototype":{"polluted":"yes"}}'];

describe("prototype pollution through request bodies", () => {
  let database: TestDatabase;
  let engine: Engine;
  let redis: Redis;
  let server: Server;
  let baseUrl: string;
  let key: string;
  let catalogMembership: CatalogMembership | undefined;
  const prefix = `test-pollution-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    const logger = createLogger({ level: "silent", name: "api-test" });
    const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    engine = await createEngine({
      redisUrl,
      databaseUrl: database.url,
      queuePrefix: prefix,
      logger,
      databasePoolSize: 2,
    });
    redis = createRedisConnection({ url: redisUrl, role: "producer", name: "pollution-test" });
    const guards = createRequestGuards(redis, prefix, DEFAULT_REQUEST_LIMITS);
    const app = createApp({
      deps: engine.deps,
      adminToken: undefined,
      readiness: async () => ({ redis: true, postgres: true }),
      guards,
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await insertUser(engine.deps.db, { id: "u1", name: "u1" });
    const generated = generateApiKey();
    await insertApiKey(engine.deps.db, { userId: "u1", keyHash: generated.hash, prefix: generated.prefix });
    key = generated.key;
    // No step worker runs here: the sim provider is made known to the catalog so flows are accepted.
    catalogMembership = await engine.deps.providerCatalog.join("pollution-test", [
      { key: "sim", models: null, limits: {} },
    ]);
  });
  afterAll(async () => {
    await catalogMembership?.leave();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await closeRedisConnection(redis);
    await engine?.close();
    await database?.drop();
  });

  const post = async (
    method: string,
    path: string,
    rawBody: string,
  ): Promise<{ status: number; body: { error?: { details: { path: string }[] } } & Record<string, unknown> }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      body: rawBody,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    });
    return { status: res.status, body: (await res.json()) as never };
  };

  it("refuses the keys where a body's fields are fixed, and Object.prototype stays clean", async () => {
    const thread = await post("POST", "/v1/threads", '{"title":"t"}');
    const threadId = thread.body.id as string;
    const step = '{"id":"a","provider":"sim","model":"echo","action":"generate","prompt":"p"}';
    for (const polluter of POLLUTERS) {
      const keyName = polluter.slice(1, polluter.indexOf('"', 1));
      const cases: [string, string, string, string][] = [
        ["POST", "/v1/threads", `{"title":"t",${polluter}}`, keyName],
        [
          "PUT",
          "/v1/policies/sim",
          `{"allowConversationHistory":true,"allowCrossProviderContext":true,"allowAttachments":true,${polluter}}`,
          keyName,
        ],
        [
          "POST",
          "/v1/flows",
          `{"threadId":"${threadId}","definition":{"name":"n","type":"sequential","steps":[${step.slice(0, -1)},${polluter}}],${polluter}}}`,
          `definition.${keyName}`,
        ],
        ["POST", "/v1/templates/critique", `{${polluter}}`, keyName],
      ];
      for (const [method, path, body, expectedPath] of cases) {
        const res = await post(method, path, body);
        expect([path, res.status]).toEqual([path, 400]);
        expect(res.body.error?.details.map((d) => d.path)).toContain(expectedPath);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it("stores free-form metadata without its __proto__ key and with a plain prototype", async () => {
    const thread = await post("POST", "/v1/threads", '{"title":"t"}');
    const flow = await post(
      "POST",
      "/v1/flows",
      `{"threadId":"${thread.body.id as string}","definition":{"name":"n","type":"sequential","steps":[{"id":"a","provider":"sim","model":"echo","action":"generate","prompt":"p"}]}}`,
    );
    const flowId = flow.body.id as string;
    const executed = await post(
      "POST",
      `/v1/flows/${flowId}/execute`,
      `{"input":"x","metadata":{"tier":"gold",${POLLUTERS.join(",")}}}`,
    );
    expect(executed.status).toBe(202);
    const stored = await findFlow(engine.deps.db, flowId);
    const metadata = stored!.metadata;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata).sort()).toEqual(["constructor", "tier"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
