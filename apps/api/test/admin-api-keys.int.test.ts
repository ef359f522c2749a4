import { insertFlow } from "@ensemble/db";
import { TestApi } from "./support/test-api.js";

jest.setTimeout(30_000);

const ADMIN_TOKEN = "admin-token-for-key-tests-0123456789";
let api: TestApi;

beforeAll(async () => {
  api = await TestApi.start({ adminToken: ADMIN_TOKEN, runFlows: false });
});
afterAll(async () => {
  await api?.stop();
});

/** The admin routes' answers: a key (created, revoked), a listing, or an error. */
interface AdminBody {
  id: string;
  key: string;
  prefix: string;
  revokedAt: string | null;
  items: { id: string; revokedAt: string | null }[];
  error: { code: string };
}

async function admin(method: string, path: string, token = ADMIN_TOKEN): Promise<{ status: number; body: AdminBody }> {
  const res = await fetch(`${api.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as AdminBody };
}

describe("admin: list and revoke API keys", () => {
  it("lists a user's keys without their secrets, and a revoked key stops working at once", async () => {
    const { userId, key } = await api.createUser();
    const second = await admin("POST", `/v1/admin/users/${userId}/api-keys`);
    expect(second.status).toBe(201);
    expect((await api.request(second.body.key, "GET", "/v1/threads")).status).toBe(200);

    const listed = await admin("GET", `/v1/admin/users/${userId}/api-keys`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(2);
    expect(listed.body.items[0]).toEqual({
      id: second.body.id,
      prefix: second.body.prefix,
      createdAt: expect.any(String),
      revokedAt: null,
      lastUsedAt: expect.any(String),
    });
    expect(listed.body.items[1]).toMatchObject({ lastUsedAt: null }); // the first key was never used
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(second.body.key);

    const revoked = await admin("DELETE", `/v1/admin/users/${userId}/api-keys/${second.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: second.body.id, revokedAt: expect.any(String) });
    const refused = await api.request<{ error: { code: string } }>(second.body.key, "GET", "/v1/threads");
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("unauthorized");
    // The user's other key still works; revoking again keeps the first revocation time.
    expect((await api.request(key, "GET", "/v1/threads")).status).toBe(200);
    const again = await admin("DELETE", `/v1/admin/users/${userId}/api-keys/${second.body.id}`);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const after = await admin("GET", `/v1/admin/users/${userId}/api-keys`);
    expect(after.body.items.find((k) => k.id === second.body.id)?.revokedAt).toBe(revoked.body.revokedAt);
  });

  it("a key revoked through another API process stops working here within KEY_CACHE_TTL_MS", async () => {
    const other = await TestApi.start({ adminToken: ADMIN_TOKEN, runFlows: false, sameClusterAs: api });
    const here = await TestApi.start({ runFlows: false, sameClusterAs: api, keyCacheTtlMs: 1_500 });
    try {
      const { userId } = await api.createUser();
      const created = await admin("POST", `/v1/admin/users/${userId}/api-keys`);
      expect((await here.request(created.body.key, "GET", "/v1/threads")).status).toBe(200);
      const revoked = await fetch(`${other.baseUrl}/v1/admin/users/${userId}/api-keys/${created.body.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(revoked.status).toBe(200);
      // Revoked at once where it was revoked; trusted here until this process's lookup expires.
      expect((await other.request(created.body.key, "GET", "/v1/threads")).status).toBe(401);
      const revokedAt = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 5_000) {
        status = (await here.request(created.body.key, "GET", "/v1/threads")).status;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(401);
      expect(Date.now() - revokedAt).toBeLessThan(1_500 + 500);
    } finally {
      await here.stop();
      await other.stop();
    }
  });

  it("is 404 for an unknown user or a key of another user, and 401 without the admin token", async () => {
    const alice = await api.createUser();
    const bob = await api.createUser();
    const bobKey = await admin("POST", `/v1/admin/users/${bob.userId}/api-keys`);
    expect((await admin("GET", "/v1/admin/users/nobody/api-keys")).status).toBe(404);
    const crossed = await admin("DELETE", `/v1/admin/users/${alice.userId}/api-keys/${bobKey.body.id}`);
    expect(crossed.status).toBe(404);
    expect(crossed.body.error.code).toBe("not_found");
    expect((await api.request(bobKey.body.key, "GET", "/v1/threads")).status).toBe(200);
    expect((await admin("GET", `/v1/admin/users/${bob.userId}/api-keys`, "wrong-token-0123456789")).status).toBe(401);
    // An API key is not an admin token.
    expect((await admin("DELETE", `/v1/admin/users/${bob.userId}/api-keys/${bobKey.body.id}`, bob.key)).status).toBe(
      401,
    );
  });
});

describe("executing a flow whose provider the cluster does not serve", () => {
  it("is 400 naming the step's provider, for a flow stored before the catalog knew better", async () => {
    const { userId, key } = await api.createUser();
    const thread = await api.request<{ id: string }>(key, "POST", "/v1/threads", { title: "old flow" });
    // Stored directly: create refuses it now (a flow from before this cluster lost the provider).
    const flow = await insertFlow(api.engine.deps.db, {
      threadId: thread.body.id,
      userId,
      name: "old",
      description: null,
      flowType: "sequential",
      definition: {
        name: "old",
        type: "sequential",
        steps: [{ id: "a", provider: "retired", model: "m", action: "generate", prompt: "original" }],
      },
    });
    for (const path of [`/v1/flows/${flow.id}/execute`, `/v1/flows/${flow.id}/steps/a/execute`]) {
      const res = await api.request<{ error: { code: string; details: { path: string; message: string }[] } }>(
        key,
        "POST",
        path,
        { input: "x" },
      );
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("validation_error");
      expect(res.body.error.details).toEqual([
        { path: "definition.steps[0].provider", message: expect.stringContaining("served: sim") },
      ]);
    }
    const stored = await api.request<{ status: string }>(key, "GET", `/v1/flows/${flow.id}`);
    expect(stored.body.status).toBe("pending");
  });
});
