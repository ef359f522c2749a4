import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { rawHttp } from "./raw-http.js";
import { ADMIN_TOKEN } from "./tenants.js";

// The HTTP edges of the all-in-one process (API, scheduler and worker in one: a crash
// here stops everything), reached as an attacker would, with and without a key.

const MALFORMED_PATH = {
  error: {
    code: "validation_error",
    message: "the URL path is not valid percent-encoding",
    details: [{ path: "path", message: expect.any(String) }],
  },
};

describe("HTTP edges of the all-in-one process", () => {
  let cluster: Cluster;
  let api: ApiClient;
  beforeAll(async () => {
    cluster = await Cluster.start({ allInOne: true, env: { ADMIN_TOKEN } });
    api = new ApiClient(cluster.baseUrl);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const alive = async (): Promise<void> => {
    expect(cluster.processes.map((p) => [p.name, p.child.exitCode, p.child.signalCode])).toEqual([["all", null, null]]);
    expect((await fetch(`${cluster.baseUrl}/healthz`)).status).toBe(200);
  };

  it("a WebSocket upgrade with malformed percent-encoding, sent without a key, is a 400 and the process keeps serving", async () => {
    for (const path of [
      "/v1/flows/%E0%A4%A/ws",
      "/v1/flows/%/ws",
      "/v1/flows/%zz/ws?lastEventId=1",
      "/v1/flows/%C0%AF/ws",
      "/v1/flows/%00/ws",
    ]) {
      const res = await rawHttp(cluster.baseUrl, { method: "GET", path, upgrade: true });
      expect([path, res.status, JSON.parse(res.body)]).toEqual([path, 400, MALFORMED_PATH]);
    }
    // Request targets `new URL` cannot parse are simply no WebSocket route.
    for (const path of ["//", "//x/v1/flows/a/ws", "/v1/flows/a/ws?%"]) {
      const res = await rawHttp(cluster.baseUrl, { method: "GET", path, upgrade: true });
      expect([path, res.status < 500]).toEqual([path, true]);
    }
    await alive();
    // And the WebSocket route still works.
    const flowId = await api.createFlow(await api.createThread(), {
      name: "ws",
      type: "sequential",
      steps: [simStep("a")],
    });
    expect(
      (
        await rawHttp(cluster.baseUrl, {
          method: "GET",
          path: `/v1/flows/${flowId}/ws`,
          upgrade: true,
          headers: { authorization: `Bearer ${DEV_KEY}` },
        })
      ).status,
    ).toBe(101);
  });

  it("every malformed percent-encoding (or encoded NUL) in an HTTP path is the same 400, before authentication, on every route", async () => {
    const cases: [method: string, path: string, headers: Record<string, string>][] = [
      ["GET", "/v1/flows/%E0%A4%A", { authorization: `Bearer ${DEV_KEY}` }],
      ["GET", "/v1/threads/%ff", {}],
      ["POST", "/v1/flows/%E0%A4%A/steps/%zz/execute", { authorization: `Bearer ${DEV_KEY}` }],
      ["PUT", "/v1/policies/%E0", { authorization: `Bearer ${DEV_KEY}` }],
      // Bull Board's own router answered these with a 500.
      ["PUT", "/admin/queues/api/queues/%E0%A4%A/pause", { authorization: `Bearer ${ADMIN_TOKEN}` }],
      ["GET", "/admin/queues/api/queues/steps/%E0%A4%A", { authorization: `Bearer ${ADMIN_TOKEN}` }],
      ["GET", "/admin/queues/static/%E0%A4%A", { authorization: `Bearer ${ADMIN_TOKEN}` }],
      ["GET", "/no/such/route/%", {}],
      // Valid encoding, but NUL: Postgres cannot take it as a parameter (it was a 500).
      ["GET", "/v1/threads/%00", { authorization: `Bearer ${DEV_KEY}` }],
      ["GET", "/v1/flows/a%00b/status", { authorization: `Bearer ${DEV_KEY}` }],
    ];
    for (const [method, path, headers] of cases) {
      const res = await rawHttp(cluster.baseUrl, { method, path, headers });
      expect([method, path, res.status, JSON.parse(res.body)]).toEqual([method, path, 400, MALFORMED_PATH]);
    }
    await alive();
  });

  it("a resume id past what an event id can be is a 400 naming it, on SSE and WebSocket (it was a 500 on an ended flow)", async () => {
    const flowId = await api.createFlow(await api.createThread(), {
      name: "ended",
      type: "sequential",
      steps: [simStep("a")],
    });
    expect((await api.execute(flowId, { input: "hi" }, true)).body).toMatchObject({ status: "completed" });
    const auth = { authorization: `Bearer ${DEV_KEY}` };
    for (const id of ["9007199254740991", "2147483648", "99999999999999999999999"]) {
      const sse = await rawHttp(cluster.baseUrl, {
        method: "GET",
        path: `/v1/flows/${flowId}/events`,
        headers: { ...auth, "last-event-id": id },
      });
      expect([id, sse.status, JSON.parse(sse.body)]).toEqual([
        id,
        400,
        {
          error: expect.objectContaining({
            code: "validation_error",
            details: [{ path: "Last-Event-ID", message: "must be an integer event id from 0 to 2147483647" }],
          }),
        },
      ]);
      const query = await rawHttp(cluster.baseUrl, {
        method: "GET",
        path: `/v1/flows/${flowId}/events?lastEventId=${id}`,
        headers: auth,
      });
      expect([id, query.status]).toEqual([id, 400]);
      const ws = await rawHttp(cluster.baseUrl, {
        method: "GET",
        path: `/v1/flows/${flowId}/ws?lastEventId=${id}`,
        headers: auth,
        upgrade: true,
      });
      expect([id, ws.status, JSON.parse(ws.body).error.details]).toEqual([
        id,
        400,
        [{ path: "lastEventId", message: expect.any(String) }],
      ]);
    }
    // The largest id is valid: nothing after it, the flow ended, so the stream is over (204).
    expect(
      (
        await rawHttp(cluster.baseUrl, {
          method: "GET",
          path: `/v1/flows/${flowId}/events`,
          headers: { ...auth, "last-event-id": "2147483647" },
        })
      ).status,
    ).toBe(204);
  });

  it("keeps idle connections open 65 s, longer than clients and load balancers keep theirs (Node's default is 5 s)", async () => {
    const res = await fetch(`${cluster.baseUrl}/healthz`);
    await res.arrayBuffer();
    expect(res.headers.get("keep-alive")).toBe("timeout=65");
  });

  it("every response carries helmet's headers and none says X-Powered-By: API, errors, OpenAPI, metrics and Bull Board", async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const cases: [path: string, headers: Record<string, string>, status: number][] = [
      ["/healthz", {}, 200],
      ["/v1/templates", { authorization: `Bearer ${DEV_KEY}` }, 200],
      ["/v1/templates", {}, 401],
      ["/nowhere", {}, 404],
      ["/openapi.json", {}, 200],
      ["/metrics", {}, 200],
      ["/admin/queues", admin, 200],
      ["/admin/queues/api/queues", admin, 200],
      ["/admin/queues", {}, 401],
    ];
    for (const [path, headers, status] of cases) {
      const res = await rawHttp(cluster.baseUrl, { method: "GET", path, headers });
      const seen = {
        status: res.status,
        nosniff: res.headers["x-content-type-options"],
        frame: res.headers["x-frame-options"],
        csp: res.headers["content-security-policy"],
        poweredBy: res.headers["x-powered-by"],
      };
      expect([path, seen]).toEqual([
        path,
        {
          status,
          nosniff: "nosniff",
          frame: "DENY",
          csp: expect.stringContaining("frame-ancestors 'none'"),
          poweredBy: undefined,
        },
      ]);
    }
    // The JSON API lets nothing load; the board's page may load its own scripts and nothing else.
    expect(
      (await rawHttp(cluster.baseUrl, { method: "GET", path: "/healthz" })).headers["content-security-policy"],
    ).toBe("default-src 'none';frame-ancestors 'none'");
    const board = (await rawHttp(cluster.baseUrl, { method: "GET", path: "/admin/queues", headers: admin })).headers[
      "content-security-policy"
    ];
    expect(board).toContain("script-src 'self'");
    expect(board).not.toMatch(/script-src[^;]*unsafe/);
  });
});
