import { ApiClient, simStep } from "./api-client.js";
import { Cluster } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, upgradeStatus, type RawResponse, type Tenant } from "./tenants.js";

// Every route of the contract × every kind of caller, each cell on fresh data: the owner of a
// thread, another user, a member with read only, a member with write only, no API key, and
// the owner's revoked key. 404 for a thread the caller has no part in, 403 (naming the
// permission) for a member without the one the request needs. Reading results — a flow,
// its status, its events, ?wait=true's answer — needs read, and so does executing a flow
// that shares the thread's history.

const ACTORS = ["owner", "other", "reader", "writer", "noKey", "revoked"] as const;
type Actor = (typeof ACTORS)[number];
type Expected = [owner: number, other: number, reader: number, writer: number, noKey: number, revoked: number];

/**
 * The data a cell acts on: "none", a pending flow in a thread, the same with a flow that
 * shares the thread's history, or a flow whose run is running.
 */
type Setup = "none" | "flow" | "history" | "running";
interface Fixture {
  threadId: string;
  flowId: string;
}
interface Row {
  route: string;
  setup: Setup;
  expected: Expected;
  kind?: "http" | "sse" | "ws";
  body?: (f: Fixture) => unknown;
}

const ROUTES: Row[] = [
  //                                                                                      owner other reader writer noKey revoked
  {
    route: "POST /v1/threads",
    setup: "none",
    expected: [201, 201, 201, 201, 401, 401],
    body: () => ({ title: "mine" }),
  },
  { route: "GET /v1/threads/:threadId", setup: "flow", expected: [200, 404, 200, 403, 401, 401] },
  {
    route: "PUT /v1/threads/:threadId/members/:userId",
    setup: "flow",
    expected: [200, 404, 403, 403, 401, 401],
    body: () => ({ permissions: ["read"] }),
  },
  {
    route: "POST /v1/threads/:threadId/messages",
    setup: "flow",
    expected: [201, 404, 403, 201, 401, 401],
    body: () => ({ role: "user", content: "hi" }),
  },
  { route: "GET /v1/threads/:threadId/messages", setup: "flow", expected: [200, 404, 200, 403, 401, 401] },
  { route: "GET /v1/threads/:threadId/flows", setup: "flow", expected: [200, 404, 200, 403, 401, 401] },
  {
    route: "PUT /v1/policies/:providerKey",
    setup: "none",
    expected: [200, 200, 200, 200, 401, 401],
    body: () => ({ allowConversationHistory: true, allowCrossProviderContext: true, allowAttachments: false }),
  },
  { route: "GET /v1/policies", setup: "none", expected: [200, 200, 200, 200, 401, 401] },
  {
    route: "POST /v1/flows",
    setup: "flow",
    expected: [201, 404, 403, 201, 401, 401],
    body: (f) => ({ threadId: f.threadId, definition: QUICK_FLOW }),
  },
  { route: "GET /v1/flows/:flowId", setup: "flow", expected: [200, 404, 200, 403, 401, 401] },
  { route: "GET /v1/flows/:flowId/status", setup: "flow", expected: [200, 404, 200, 403, 401, 401] },
  { route: "DELETE /v1/flows/:flowId", setup: "flow", expected: [204, 404, 403, 403, 401, 401] },
  { route: "DELETE /v1/flows/:flowId (running)", setup: "running", expected: [409, 404, 403, 403, 401, 401] },
  {
    route: "POST /v1/flows/:flowId/execute",
    setup: "flow",
    expected: [202, 404, 403, 202, 401, 401],
    body: () => ({ input: "go" }),
  },
  {
    route: "POST /v1/flows/:flowId/execute?wait=true",
    setup: "flow",
    expected: [200, 404, 403, 403, 401, 401],
    body: () => ({ input: "go" }),
  },
  {
    route: "POST /v1/flows/:flowId/execute (shares history)",
    setup: "history",
    expected: [202, 404, 403, 403, 401, 401],
    body: () => ({ input: "go" }),
  },
  {
    route: "POST /v1/flows/:flowId/execute (running)",
    setup: "running",
    expected: [409, 404, 403, 409, 401, 401],
    body: () => ({ input: "again" }),
  },
  {
    route: "POST /v1/flows/:flowId/steps/:stepId/execute",
    setup: "flow",
    expected: [202, 404, 403, 202, 401, 401],
    body: () => ({ input: "one step" }),
  },
  {
    route: "POST /v1/flows/:flowId/steps/:stepId/execute?wait=true",
    setup: "flow",
    expected: [200, 404, 403, 403, 401, 401],
    body: () => ({ input: "one step" }),
  },
  { route: "POST /v1/flows/:flowId/cancel (running)", setup: "running", expected: [202, 404, 403, 202, 401, 401] },
  { route: "GET /v1/flows/:flowId/runs (running)", setup: "running", expected: [200, 404, 200, 403, 401, 401] },
  { route: "GET /v1/flows/:flowId/runs/1 (running)", setup: "running", expected: [200, 404, 200, 403, 401, 401] },
  {
    route: "GET /v1/flows/:flowId/compare?runs=1,1 (running)",
    setup: "running",
    expected: [200, 404, 200, 403, 401, 401],
  },
  {
    route: "POST /v1/flows/:flowId/runs/1/rerun (running)",
    setup: "running",
    expected: [409, 404, 403, 409, 401, 401],
    body: () => ({ fromStep: "a" }),
  },
  { route: "GET /v1/flows/:flowId/events", setup: "flow", expected: [200, 404, 200, 403, 401, 401], kind: "sse" },
  { route: "GET /v1/flows/:flowId/ws", setup: "flow", expected: [101, 404, 101, 403, 401, 401], kind: "ws" },
  { route: "GET /v1/templates", setup: "none", expected: [200, 200, 200, 200, 401, 401] },
  { route: "POST /v1/templates/:name", setup: "none", expected: [200, 200, 200, 200, 401, 401], body: () => ({}) },
  // Admin routes take ADMIN_TOKEN, never a user's key.
  {
    route: "POST /v1/admin/users",
    setup: "none",
    expected: [401, 401, 401, 401, 401, 401],
    body: () => ({ name: "intruder" }),
  },
  { route: "POST /v1/admin/users/:userId/api-keys", setup: "none", expected: [401, 401, 401, 401, 401, 401] },
  { route: "GET /admin/queues", setup: "none", expected: [401, 401, 401, 401, 401, 401] },
];

const QUICK_FLOW = { name: "quick", type: "sequential", steps: [simStep("a")] };
const SLOW_FLOW = { name: "slow", type: "sequential", steps: [simStep("a", { model: "slow?latencyMs=60000" })] };
const HISTORY_FLOW = {
  name: "history",
  type: "sequential",
  contextPolicy: { shareConversationHistory: true },
  steps: [simStep("a", { prompt: "{{ history }} {{ original }}" })],
};
const FLOW_BY_SETUP = { flow: QUICK_FLOW, history: HISTORY_FLOW, running: SLOW_FLOW };
const ERROR_CODE_BY_STATUS: Record<number, string> = {
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
};

describe("tenant isolation: every route × every caller", () => {
  let cluster: Cluster;
  let tenants: Record<"owner" | "other" | "reader" | "writer", Tenant>;
  let revokedKey: string;
  const runningFlows: string[] = [];

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN } });
    const tenant = (name: string) => createTenant(cluster.baseUrl, name);
    const [owner, other, reader, writer] = await Promise.all([
      tenant("owner"),
      tenant("other"),
      tenant("reader"),
      tenant("writer"),
    ]);
    tenants = { owner, other, reader, writer };
    // A second key of the owner's, revoked: it must lose every right the owner has.
    const spare = await send(cluster.baseUrl, {
      method: "POST",
      path: `/v1/admin/users/${tenants.owner.userId}/api-keys`,
      key: ADMIN_TOKEN,
    });
    revokedKey = spare.json.key as string;
    expect((await send(cluster.baseUrl, { method: "GET", path: "/v1/policies", key: revokedKey })).status).toBe(200);
    // Revoked as an administrator does it: at once on the API process that answers.
    const revoked = await send(cluster.baseUrl, {
      method: "DELETE",
      path: `/v1/admin/users/${tenants.owner.userId}/api-keys/${spare.json.id as string}`,
      key: ADMIN_TOKEN,
    });
    expect(revoked.status).toBe(200);
  });

  afterAll(async () => {
    if (cluster) {
      const owner = new ApiClient(cluster.baseUrl, tenants.owner.key);
      await Promise.all(runningFlows.map((id) => owner.request("POST", `/v1/flows/${id}/cancel`)));
      await cluster.stop();
    }
  });

  const keyOf = (actor: Actor): string | undefined =>
    actor === "noKey" ? undefined : actor === "revoked" ? revokedKey : tenants[actor].key;

  async function makeFixture(setup: Setup): Promise<Fixture> {
    if (setup === "none") return { threadId: "", flowId: "" };
    const owner = new ApiClient(cluster.baseUrl, tenants.owner.key);
    const threadId = await owner.createThread("matrix");
    for (const [member, permissions] of [
      [tenants.reader, ["read"]],
      [tenants.writer, ["write"]],
    ] as const) {
      const added = await owner.request("PUT", `/v1/threads/${threadId}/members/${member.userId}`, { permissions });
      if (added.status !== 200) throw new Error(`add member: ${added.status}`);
    }
    const flowId = await owner.createFlow(threadId, FLOW_BY_SETUP[setup]);
    if (setup === "running") {
      runningFlows.push(flowId);
      expect((await owner.execute(flowId, { input: "hold" })).status).toBe(202);
      await owner.waitForStatus(flowId, ["running"]);
    }
    return { threadId, flowId };
  }

  async function call(
    row: Row,
    actor: Actor,
    fixture: Fixture,
  ): Promise<{ status: number; response: RawResponse | null }> {
    const [method, template] = row.route.split(" ") as [string, string];
    const path = template
      .replace(":threadId", fixture.threadId)
      .replace(":flowId", fixture.flowId)
      .replace(":userId", tenants.other.userId)
      .replace(":stepId", "a")
      .replace(":providerKey", "sim")
      .replace(":name", "critique");
    const key = keyOf(actor);
    if (row.kind === "ws") return { status: await upgradeStatus(cluster.baseUrl, path, key), response: null };
    const body = row.body?.(fixture);
    const response = await send(cluster.baseUrl, {
      method,
      path,
      ...(key ? { key } : {}),
      ...(body === undefined ? {} : { body }),
      stream: row.kind === "sse",
    });
    return { status: response.status, response };
  }

  it("answers each cell with the contract's status and error body", async () => {
    const actual: Record<string, Record<Actor, number>> = {};
    const expected: Record<string, Record<Actor, number>> = {};
    const badBodies: string[] = [];
    for (const row of ROUTES) {
      expected[row.route] = Object.fromEntries(ACTORS.map((a, i) => [a, row.expected[i]])) as Record<Actor, number>;
      const cells = await Promise.all(
        ACTORS.map(async (actor) => {
          const { status, response } = await call(row, actor, await makeFixture(row.setup));
          // Every refusal is the contract's error object with the code of its status.
          const code = ERROR_CODE_BY_STATUS[status];
          if (code && response && response.json?.error?.code !== code)
            badBodies.push(`${row.route} as ${actor}: ${response.text}`);
          if (code && response && !Array.isArray(response.json?.error?.details))
            badBodies.push(`${row.route} as ${actor}: no details array`);
          return [actor, status] as const;
        }),
      );
      actual[row.route] = Object.fromEntries(cells) as Record<Actor, number>;
    }
    expect(actual).toEqual(expected);
    expect(badBodies).toEqual([]);
  });

  it("never lets one user see another's data in a listing", async () => {
    const owner = new ApiClient(cluster.baseUrl, tenants.owner.key);
    const other = new ApiClient(cluster.baseUrl, tenants.other.key);
    const threadId = await owner.createThread("private");
    await owner.createFlow(threadId, QUICK_FLOW);
    await owner.request("PUT", "/v1/policies/openai", {
      allowConversationHistory: false,
      allowCrossProviderContext: false,
      allowAttachments: false,
    });

    expect((await other.request("GET", `/v1/threads/${threadId}/flows`)).status).toBe(404);
    const otherPolicies = await other.request<{ items: { providerKey: string }[] }>("GET", "/v1/policies");
    expect(otherPolicies.body.items.map((p) => p.providerKey)).not.toContain("openai");
    // The owner's own thread id in another user's create-flow body is still someone else's thread.
    expect((await other.request("POST", "/v1/flows", { threadId, definition: QUICK_FLOW })).status).toBe(404);
  });
});
