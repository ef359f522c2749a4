import fc from "fast-check";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawResponse } from "./tenants.js";

// Property-based fuzzing of every request body, against the real API process with a valid
// key: arbitrary JSON, JSON close to each route's valid body with one part replaced,
// non-JSON, wrong content types, deep nesting, huge numbers, NUL and lone surrogates.
// Whatever comes in: no 5xx, the processes stay up, and a refusal is the contract's error
// body — a 400 names each field by path, a 403 the permission or the policy's step.

/** A route with a body, as `GET /openapi.json` lists it (the one list of routes). */
interface BodyRoute {
  method: string;
  path: string;
}

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

/** Characters Postgres `text`/`jsonb` cannot hold as sent: NUL, and lone surrogates (in jsonb). */
const UNSTORABLE = ["\u0000", "\ud800", "\udfff", "\ud83d"];
const hasUnstorable = (text: string): boolean =>
  /[\u0000\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));

/** Strings a validator must survive; `unstorable` makes every one carry NUL or a lone surrogate. */
function hostileStrings(unstorable: boolean): fc.Arbitrary<string> {
  const any = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom(
      "a\u2028b\u2029",
      "%E0%A4%A",
      "{{ history }}",
      "{{ steps.a.output }}",
      "__proto__",
      "constructor",
      "9007199254740993",
      "\ud83d\ude00",
    ),
    fc.string({ unit: fc.constantFrom("a", "{", "}", "\\", '"', "%"), maxLength: 30 }),
  );
  return unstorable
    ? fc.tuple(any, fc.constantFrom(...UNSTORABLE), any).map(([a, bad, b]) => a + bad + b)
    : any.filter((text) => !hasUnstorable(text));
}

const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  -0,
  2 ** 31,
  -(2 ** 31) - 1,
  0.1,
  1e-320,
);

function hostileValues(strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      strings,
      hugeNumber,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(strings, tie("value"), { maxKeys: 4 }),
    ),
  })).value;
}

/** Serialised bodies that are not a JSON value, or one no validator expects. */
const rawBody = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }).filter((text) => !hasUnstorable(text)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 33, max: 5_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.integer({ min: 33, max: 5_000 }).map((depth) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth)),
  fc.constantFrom(
    "1e999999",
    "-1e999999",
    "123456789012345678901234567890",
    '{"a":1,"a":2}',
    '{"__proto__":{"x":1}}',
    "\ufeff{}",
    "",
    "null",
    "{",
    "}",
    "[1,]",
    '{"a":}',
  ),
);
const wrongContentType = fc.constantFrom(
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "application/xml",
  "",
);

/** Sets `value` at a random place in `base` (a copy), or adds an unknown key there. */
function mutate(base: unknown, pick: number[], value: unknown, key: string): unknown {
  if (typeof base !== "object" || base === null) return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(base)
    ? [...base]
    : { ...(base as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const [choice = 0, ...rest] = pick;
  if (keys.length === 0 || choice % (keys.length + 1) === keys.length) {
    (copy as Record<string, unknown>)[key] = value;
    return copy;
  }
  const at = keys[choice % keys.length] as string;
  (copy as Record<string, unknown>)[at] =
    rest.length === 0 ? value : mutate((copy as Record<string, unknown>)[at], rest, value, key);
  return copy;
}

/** What the contract allows a body to be refused with; anything else is a finding. */
function refusalProblem(response: RawResponse): string | null {
  if (response.status >= 500) return `status ${response.status}`;
  if (response.status < 400) return null;
  const error = response.json?.error;
  if (!error || typeof error.code !== "string" || typeof error.message !== "string" || !Array.isArray(error.details))
    return "not the error body";
  if (/\n\s+at |node_modules|\.ts:\d+/.test(response.text)) return "a stack trace in the body";
  const details = error.details as Record<string, unknown>[];
  if (response.status === 400 && (details.length === 0 || !details.every((d) => typeof d.path === "string")))
    return "a 400 that names no field";
  if (response.status === 403 && !details.every((d) => typeof d.permission === "string" || typeof d.path === "string"))
    return "a 403 that names no permission or field";
  return null;
}

describe("every request body, fuzzed against the running API", () => {
  let cluster: Cluster;
  let routes: BodyRoute[];
  let params: Record<string, string>;
  /** A valid body per route (path template), the base of the near-valid cases. */
  let validBodies: Record<string, unknown>;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN } });
    const doc = (await send(cluster.baseUrl, { method: "GET", path: "/openapi.json" })).json as {
      paths: Record<string, Record<string, { security?: { apiKey?: unknown }[] }>>;
    };
    // Every route a key may send a body to (those that take none must refuse one cleanly too).
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method, op]) => ["post", "put"].includes(method) && (op.security ?? []).some((s) => "apiKey" in s))
        .map(([method]) => ({ method: method.toUpperCase(), path })),
    );
    const client = new ApiClient(cluster.baseUrl, DEV_KEY);
    const threadId = await client.createThread("fuzz");
    const flowId = await client.createFlow(threadId, {
      name: "fuzz",
      type: "sequential",
      steps: [simStep("a"), simStep("b")],
    });
    // Run 1 exists, so reruns of it get as far as their overrides.
    await client.execute(flowId, { input: "x" }, true);
    const member = await createTenant(cluster.baseUrl, "member");
    params = { threadId, flowId, stepId: "a", run: "1", userId: member.userId, providerKey: "sim", name: "critique" };
    validBodies = {
      "/v1/threads": { title: "t" },
      "/v1/threads/{threadId}/messages": { role: "user", content: "hi" },
      "/v1/threads/{threadId}/members/{userId}": { permissions: ["read"] },
      "/v1/policies/{providerKey}": {
        allowConversationHistory: true,
        allowCrossProviderContext: true,
        allowAttachments: false,
      },
      "/v1/flows": {
        threadId,
        definition: {
          name: "n",
          type: "sequential",
          steps: [simStep("a"), simStep("b", { condition: "previous.contains('x')" })],
        },
      },
      "/v1/flows/{flowId}/execute": {
        input: "x",
        metadata: { k: "v" },
        saveMessages: false,
        timeout: { flowMs: 5_000, stepMs: 1_000 },
      },
      "/v1/flows/{flowId}/steps/{stepId}/execute": { input: "x", metadata: { k: "v" } },
      "/v1/flows/{flowId}/runs/{run}/rerun": {
        fromStep: "b",
        overrides: { b: { model: "echo", prompt: "again: {{ previous }}", settings: { temperature: 0 } } },
        input: "x",
      },
      "/v1/flows/{flowId}/steps/{stepId}/approve": { decision: "approve", data: { ok: true }, comment: "fine" },
      "/v1/flows/{flowId}/schedules": { cron: "0 0 1 1 *", timezone: "UTC", input: "x", metadata: { k: "v" } },
      "/v1/templates/{name}": {},
      "/v1/flows/{flowId}/cancel": {},
    };
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("takes its routes from the OpenAPI document, and has a valid body for each", () => {
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(routes.map((r) => r.path).filter((p) => !(p in validBodies))).toEqual([]);
  });

  /** Sends `RUNS` fuzzed requests; resolves to what broke the contract (empty when nothing did). */
  async function fuzzBodies(strings: fc.Arbitrary<string>, seed: number): Promise<string[]> {
    const findings: string[] = [];
    const values = hostileValues(strings);
    const route = fc.integer({ min: 0, max: 1_000 }).map((i) => routes[i % routes.length] as BodyRoute);
    const request = fc.oneof(
      fc.record({ kind: fc.constant("json" as const), route, body: values }),
      fc.record({
        kind: fc.constant("near" as const),
        route,
        pick: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        value: values,
        key: strings,
      }),
      fc.record({ kind: fc.constant("raw" as const), route, raw: rawBody }),
      fc.record({
        kind: fc.constant("type" as const),
        route,
        raw: fc.constantFrom("{}", '{"title":"t"}', "title=t"),
        contentType: wrongContentType,
      }),
    );
    await fc
      .assert(
        fc.asyncProperty(request, async (r) => {
          const path = r.route.path.replace(/\{(\w+)\}/g, (_, name: string) =>
            encodeURIComponent(params[name] ?? name),
          );
          const base = { method: r.route.method, path, key: DEV_KEY };
          const response = await (r.kind === "json"
            ? send(cluster.baseUrl, { ...base, body: r.body })
            : r.kind === "near"
              ? send(cluster.baseUrl, { ...base, body: mutate(validBodies[r.route.path], r.pick, r.value, r.key) })
              : send(cluster.baseUrl, {
                  ...base,
                  rawBody: r.raw,
                  headers: { "content-type": r.kind === "type" ? r.contentType : "application/json" },
                }));
          const problem = refusalProblem(response);
          if (problem)
            findings.push(
              `${r.route.method} ${r.route.path}: ${problem}: ${response.text.slice(0, 200)} <- ${JSON.stringify(r).slice(0, 300)}`,
            );
          // Stops at the first finding; FUZZ_ALL=1 goes on to list every finding.
          return problem === null || Boolean(process.env.FUZZ_ALL);
        }),
        { seed, numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: 45_000 },
      )
      .catch((error: unknown) => findings.push(`seed ${seed}: ${String(error)}`));
    expect((await send(cluster.baseUrl, { method: "GET", path: "/healthz" })).status).toBe(200);
    expect(
      cluster.processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.name),
    ).toEqual([]);
    return findings;
  }

  it("answers every body with a 2xx or the contract's 4xx, never a 5xx, and stays up", async () => {
    expect(await fuzzBodies(hostileStrings(false), SEED)).toEqual([]);
  });

  // Postgres text/jsonb cannot hold NUL or lone surrogates; the API stores them as U+FFFD.
  it("answers bodies carrying NUL or lone surrogates the same way", async () => {
    expect(await fuzzBodies(hostileStrings(true), SEED)).toEqual([]);
  });
});
