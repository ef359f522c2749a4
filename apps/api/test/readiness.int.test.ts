import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { createEngine, createLogger, readinessProbe, type Engine } from "@ensemble/engine";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { createApp } from "../src/app.js";
import { REDIS_URL } from "./support/test-api.js";

// Real Postgres, Redis and flows: slower than jest's 5 s default on a busy CI machine.
jest.setTimeout(30_000);

// Real dependencies that are down: a closed port (connection refused) and a server that
// accepts connections and never answers (a hung host) — no mocks of Redis or Postgres.
const CLOSED_PORT = 1;
const logger = createLogger({ level: "silent", name: "readiness-test" });

let database: TestDatabase;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];
const engines: Engine[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  silent = createServer((socket) => {
    sockets.push(socket); // hold it open, say nothing
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentPort = (silent.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  // Closing clients of a dead server can wait on their reconnect loops: give each a second.
  await Promise.all(
    engines.map((engine) =>
      Promise.race([engine.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]),
    ),
  );
  await database.drop();
});

async function readyz(config: {
  redisUrl: string;
  databaseUrl: string;
}): Promise<{ status: number; body: Record<string, unknown>; ms: number; retryAfter: string | null }> {
  const engine = await createEngine({ ...config, queuePrefix: "test-readyz", logger, databasePoolSize: 1 });
  engines.push(engine);
  const app = createApp({ deps: engine.deps, adminToken: undefined, readiness: readinessProbe(engine.deps) });
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      ms: Date.now() - started,
      retryAfter: res.headers.get("retry-after"),
    };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("/readyz names what is down", () => {
  it("503 naming redis when Redis refuses connections", async () => {
    const res = await readyz({ redisUrl: `redis://127.0.0.1:${CLOSED_PORT}`, databaseUrl: database.url });
    expect(res.status).toBe(503);
    expect(res.retryAfter).toBe("5");
    expect(res.body).toEqual({
      status: "unavailable",
      checks: { redis: false, postgres: true },
      down: ["redis"],
      message: "not ready: redis unreachable",
    });
  });

  it("503 naming postgres when Postgres refuses connections", async () => {
    const res = await readyz({ redisUrl: REDIS_URL, databaseUrl: `postgres://postgres@127.0.0.1:${CLOSED_PORT}/test` });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: "unavailable",
      checks: { redis: true, postgres: false },
      down: ["postgres"],
      message: "not ready: postgres unreachable",
    });
  });

  it("503 naming both within the probe's 2 s when both hosts hang", async () => {
    const res = await readyz({
      redisUrl: `redis://127.0.0.1:${silentPort}`,
      databaseUrl: `postgres://postgres@127.0.0.1:${silentPort}/test`,
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      checks: { redis: false, postgres: false },
      down: ["redis", "postgres"],
      message: "not ready: redis and postgres unreachable",
    });
    expect(res.ms).toBeLessThan(4_000);
  });
});
