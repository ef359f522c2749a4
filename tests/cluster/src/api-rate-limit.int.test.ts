import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { tables } from "@ensemble/db";
import { Cluster, freePort } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse, type Tenant } from "./tenants.js";

// The per-API-key rate limit lives in Redis, so two API processes share one count.

const LIMIT = 20;

describe("per-API-key rate limit across two API processes", () => {
  let cluster: Cluster;
  let secondApi: string;
  let alice: Tenant;
  let bob: Tenant;

  beforeAll(async () => {
    cluster = await Cluster.start({
      workers: 0,
      env: { ADMIN_TOKEN, RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_MS: "60000" },
    });
    const port = await freePort();
    cluster.spawn("api", "api-2", { PORT: String(port) });
    secondApi = `http://127.0.0.1:${port}`;
    await waitReady(secondApi);
    [alice, bob] = await Promise.all([createTenant(cluster.baseUrl, "alice"), createTenant(cluster.baseUrl, "bob")]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const policies = (baseUrl: string, key?: string): Promise<RawResponse> =>
    send(baseUrl, { method: "GET", path: "/v1/policies", ...(key ? { key } : {}) });

  it("counts a key's requests on both processes and refuses the one past the limit with 429 and Retry-After", async () => {
    const remaining: number[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      const res = await policies(i % 2 === 0 ? cluster.baseUrl : secondApi, alice.key);
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBe(String(LIMIT));
      remaining.push(Number(res.headers.get("ratelimit-remaining")));
    }
    expect(remaining).toEqual(Array.from({ length: LIMIT }, (_, i) => LIMIT - 1 - i));

    for (const baseUrl of [cluster.baseUrl, secondApi]) {
      const refused = await policies(baseUrl, alice.key);
      expect(refused.status).toBe(429);
      expect(refused.json.error).toEqual({
        code: "rate_limited",
        message: expect.any(String),
        details: [expect.objectContaining({ limit: LIMIT, windowMs: 60_000 })],
      });
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get("ratelimit-remaining")).toBe("0");
      expect(refused.headers.get("ratelimit-policy")).toBe(`${LIMIT};w=60`);
    }
    // The WebSocket upgrade (which bypasses Express) counts too.
    expect(await websocketUpgradeStatus(secondApi, "/v1/flows/any-flow/ws", alice.key)).toBe(429);
    // Every route behind the key is limited, writes included, and nothing is written.
    const write = await send(secondApi, {
      method: "POST",
      path: "/v1/threads",
      key: alice.key,
      body: { title: "over the limit" },
    });
    expect(write.status).toBe(429);
    expect(await cluster.database!.handle.db.$count(tables.threads)).toBe(0);
  });

  it("leaves other keys alone: another user's, and another key of the same user", async () => {
    const bobs = await policies(secondApi, bob.key);
    expect([bobs.status, bobs.headers.get("ratelimit-remaining")]).toEqual([200, String(LIMIT - 1)]);
    const spare = await send(cluster.baseUrl, {
      method: "POST",
      path: `/v1/admin/users/${alice.userId}/api-keys`,
      key: ADMIN_TOKEN,
    });
    const alicesSecondKey = await policies(cluster.baseUrl, spare.json.key as string);
    expect(alicesSecondKey.status).toBe(200);
  });

  it("does not count requests without a valid key (they are 401, not 429)", async () => {
    const res = await policies(cluster.baseUrl);
    expect([res.status, res.headers.get("ratelimit-limit")]).toEqual([401, null]);
  });
});

/** The HTTP status a WebSocket upgrade request is refused with (a raw handshake: no client library needed). */
function websocketUpgradeStatus(baseUrl: string, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        authorization: `Bearer ${key}`,
      },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("error", reject);
    req.end();
  });
}

async function waitReady(baseUrl: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${baseUrl} not ready in time`);
}
