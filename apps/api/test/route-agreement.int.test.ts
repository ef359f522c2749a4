import { readFileSync } from "node:fs";
import { join } from "node:path";
import { matchFlowWebSocketPath } from "../src/events/websocket-upgrade.js";
import { buildOpenApiDocument } from "../src/openapi/openapi-document.js";
import { OUTSIDE_CONTRACT, ROUTES } from "../src/routes/route-registry.js";
import { TestApi } from "./support/test-api.js";

// One Postgres database and Redis prefix for the app, as the other API tests.
jest.setTimeout(30_000);

/** `GET /v1/flows/{flowId}`: the one spelling every source below is brought to. */
type RouteKey = string;

/** `:name` → `{name}`, no query string, no trailing slash. */
function routeKey(method: string, path: string): RouteKey {
  const bare = path.split("?")[0]!.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
  return `${method.toUpperCase()} ${bare.length > 1 ? bare.replace(/\/+$/, "") : bare}`;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** What Express serves: its routes (method and path), and the paths apps or handlers are mounted at. */
function servedByExpress(
  stack: Layer[],
  prefix = "",
  found = { routes: new Set<RouteKey>(), mounts: new Set<string>() },
) {
  for (const layer of stack) {
    const at = layer.slash || typeof layer.rawPath !== "string" ? prefix : prefix + layer.rawPath;
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods))
        if (on && method !== "_all") found.routes.add(routeKey(method, prefix + layer.route.path));
    } else if (layer.handle.stack) {
      servedByExpress(layer.handle.stack, at, found);
    } else if (at !== prefix) {
      found.mounts.add(at);
    }
  }
  return found;
}

/** The routes in the first column of docs/api.md's route table. */
function documentedInApiMd(): RouteKey[] {
  const text = readFileSync(join(__dirname, "..", "..", "..", "docs", "api.md"), "utf8");
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^\| route \| does \|$/.test(l.trim()));
  if (start < 0) throw new Error("docs/api.md has no `| route | does |` table");
  const keys: RouteKey[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const firstCell = line.split(/(?<!\\)\|/)[1] ?? "";
    for (const [, method, path] of firstCell.matchAll(/`(GET|POST|PUT|DELETE) (\/[^`\s]*)[^`]*`/g))
      keys.push(routeKey(method!, path!));
  }
  return keys;
}

/** One line per route one side has and the other lacks, naming both sides. */
function disagreements(a: Iterable<RouteKey>, aName: string, b: Iterable<RouteKey>, bName: string): string[] {
  const left = new Set(a);
  const right = new Set(b);
  return [
    ...[...left].filter((k) => !right.has(k)).map((k) => `${k}: in ${aName}, missing from ${bName}`),
    ...[...right].filter((k) => !left.has(k)).map((k) => `${k}: in ${bName}, missing from ${aName}`),
  ].sort();
}

describe("the route registry, Express, the OpenAPI document and docs/api.md agree", () => {
  let api: TestApi;
  beforeAll(async () => {
    // With ADMIN_TOKEN, so Bull Board is mounted as in production.
    api = await TestApi.start({ adminToken: "route-agreement-admin-token-0123456789", runFlows: false });
  });
  afterAll(() => api?.stop());

  const registry = ROUTES.map((r) => routeKey(r.method, r.path));
  const outside = new Set(OUTSIDE_CONTRACT);

  it("lists each route once", () => {
    expect(registry.filter((k, i) => registry.indexOf(k) !== i)).toEqual([]);
    const ids = ROUTES.map((r) => r.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it("serves every registry route, and no other route outside OUTSIDE_CONTRACT", () => {
    const { routes, mounts } = servedByExpress((api.app as unknown as { router: { stack: Layer[] } }).router.stack);
    const servedRoutes = [...routes].filter((k) => !outside.has(k));
    // Express serves what the registry mounts and the operational routers; the WebSocket route
    // is answered on the server's upgrade event, Bull Board is an app mounted at its path.
    const servedElsewhere = ROUTES.filter((r) => !r.serve).map((r) => routeKey(r.method, r.path));
    const notAsRoutes = servedElsewhere.filter((k) => !routes.has(k));
    for (const key of notAsRoutes) {
      const path = key.slice(key.indexOf(" ") + 1);
      const served = mounts.has(path) || matchFlowWebSocketPath(path.replace(/\{[^}]+\}/g, "x")) !== null;
      if (!served) throw new Error(`${key}: in the registry, served by no route, mount or upgrade handler`);
    }
    expect(
      disagreements(
        registry.filter((k) => !notAsRoutes.includes(k)),
        "the registry",
        servedRoutes,
        "Express",
      ),
    ).toEqual([]);
    // The registry's handler-less routes are really served elsewhere, the others by the registry.
    for (const route of ROUTES.filter((r) => r.serve)) expect(route.servedBy).toBeUndefined();
  });

  it("describes exactly the registry's routes in the OpenAPI document", () => {
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const described = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => routeKey(method, path)),
    );
    expect(disagreements(registry, "the registry", described, "the OpenAPI document")).toEqual([]);
  });

  it("lists exactly the registry's routes in docs/api.md's route table", () => {
    const documented = documentedInApiMd().filter((k) => !outside.has(k));
    expect(disagreements(registry, "the registry", documented, "docs/api.md's route table")).toEqual([]);
  });
});
