import { readFileSync } from "node:fs";
import { tables } from "@ensemble/db";
import { ApiClient, simStep } from "./api-client.js";
import { Cluster, DEV_KEY } from "./cluster-harness.js";
import { ADMIN_TOKEN, createTenant, send, type RawRequest, type RawResponse, type Tenant } from "./tenants.js";

// Bad input through the real API process: every refused request is a 4xx in the contract's
// shape naming the field by path, stores nothing, and no error body or log line carries a
// stack trace or an API key.

type Definition = Record<string, unknown> & { steps: Record<string, unknown>[] };
const validDefinition = (): Definition => ({ name: "valid", type: "sequential", steps: [simStep("a"), simStep("b")] });
const withStep = (patch: Record<string, unknown>): Definition => {
  const definition = validDefinition();
  definition.steps[0] = { ...definition.steps[0], ...patch };
  return definition;
};
const nested = (depth: number): unknown => (depth === 0 ? "deep" : { a: nested(depth - 1) });

/** One wrong field of POST /v1/flows, and the path the 400 must name. */
const CREATE_FLOW_CASES: [name: string, body: (threadId: string) => unknown, path: string][] = [
  ["threadId missing", () => ({ definition: validDefinition() }), "threadId"],
  ["threadId not a string", () => ({ threadId: 5, definition: validDefinition() }), "threadId"],
  ["unknown top-level field", (t) => ({ threadId: t, definition: validDefinition(), owner: "me" }), "owner"],
  ["definition missing", (t) => ({ threadId: t }), "definition"],
  ["definition not an object", (t) => ({ threadId: t, definition: "flow" }), "definition"],
  ["name empty", (t) => ({ threadId: t, definition: { ...validDefinition(), name: "" } }), "definition.name"],
  ["name not a string", (t) => ({ threadId: t, definition: { ...validDefinition(), name: 7 } }), "definition.name"],
  ["type unknown", (t) => ({ threadId: t, definition: { ...validDefinition(), type: "zigzag" } }), "definition.type"],
  ["no steps", (t) => ({ threadId: t, definition: { ...validDefinition(), steps: [] } }), "definition.steps"],
  [
    "too many steps",
    (t) => ({
      threadId: t,
      definition: { ...validDefinition(), steps: Array.from({ length: 51 }, (_, i) => simStep(`s${i}`)) },
    }),
    "definition.steps",
  ],
  [
    "maxExecutionTime out of range",
    (t) => ({ threadId: t, definition: { ...validDefinition(), maxExecutionTime: 10 ** 12 } }),
    "definition.maxExecutionTime",
  ],
  [
    "output names no step",
    (t) => ({ threadId: t, definition: { ...validDefinition(), output: "ghost" } }),
    "definition.output",
  ],
  [
    "contextPolicy out of range",
    (t) => ({ threadId: t, definition: { ...validDefinition(), contextPolicy: { maxSharedTokens: -1 } } }),
    "definition.contextPolicy.maxSharedTokens",
  ],
  [
    "unknown definition field",
    (t) => ({ threadId: t, definition: { ...validDefinition(), priority: "high" } }),
    "definition.priority",
  ],
  ["step id malformed", (t) => ({ threadId: t, definition: withStep({ id: "1 bad" }) }), "definition.steps[0].id"],
  [
    "provider malformed",
    (t) => ({ threadId: t, definition: withStep({ provider: "Open AI" }) }),
    "definition.steps[0].provider",
  ],
  ["model missing", (t) => ({ threadId: t, definition: withStep({ model: undefined }) }), "definition.steps[0].model"],
  ["action unknown", (t) => ({ threadId: t, definition: withStep({ action: "dance" }) }), "definition.steps[0].action"],
  ["prompt empty", (t) => ({ threadId: t, definition: withStep({ prompt: "" }) }), "definition.steps[0].prompt"],
  [
    "prompt placeholder unknown",
    (t) => ({ threadId: t, definition: withStep({ prompt: "{{ secrets }}" }) }),
    "definition.steps[0].prompt",
  ],
  [
    "prompt placeholder unclosed",
    (t) => ({ threadId: t, definition: withStep({ prompt: "{{ original" }) }),
    "definition.steps[0].prompt",
  ],
  [
    "prompt names an unknown step",
    (t) => ({ threadId: t, definition: withStep({ prompt: "{{ steps.ghost.output }}" }) }),
    "definition.steps[0].prompt",
  ],
  [
    "condition not CEL",
    (t) => ({ threadId: t, definition: withStep({ condition: "previous.contains(" }) }),
    "definition.steps[0].condition",
  ],
  [
    "condition names an unknown variable",
    (t) => ({ threadId: t, definition: withStep({ condition: "process.exit(1) == null" }) }),
    "definition.steps[0].condition",
  ],
  [
    "dependsOn an unknown step",
    (t) => ({ threadId: t, definition: withStep({ dependsOn: ["ghost"] }) }),
    "definition.steps[0].dependsOn[0]",
  ],
  [
    "inputFrom an unknown step",
    (t) => ({ threadId: t, definition: withStep({ inputFrom: "ghost" }) }),
    "definition.steps[0].inputFrom",
  ],
  [
    "maxRetries out of range",
    (t) => ({ threadId: t, definition: withStep({ maxRetries: 99 }) }),
    "definition.steps[0].maxRetries",
  ],
  ["timeout negative", (t) => ({ threadId: t, definition: withStep({ timeout: -5 }) }), "definition.steps[0].timeout"],
  [
    "temperature out of range",
    (t) => ({ threadId: t, definition: withStep({ settings: { temperature: 7 } }) }),
    "definition.steps[0].settings.temperature",
  ],
  [
    "unknown step field",
    (t) => ({ threadId: t, definition: withStep({ shell: "rm -rf /" }) }),
    "definition.steps[0].shell",
  ],
  [
    "__proto__ in a step",
    (t) => ({
      threadId: t,
      definition: withStep(JSON.parse('{"__proto__":{"polluted":"yes"}}') as Record<string, unknown>),
    }),
    "definition.steps[0].__proto__",
  ],
  [
    "nested too deep",
    (t) => ({ threadId: t, definition: { ...validDefinition(), description: nested(40) } }),
    `definition.description${".a".repeat(30)}`,
  ], // the body is level 1, so level 33 is here
];

/** One wrong field of POST /v1/flows/:id/execute, and the path the 400 must name. */
const EXECUTE_CASES: [name: string, request: Partial<RawRequest>, path: string][] = [
  ["input not a string", { body: { input: 5 } }, "input"],
  ["input too long", { body: { input: "x".repeat(200_001) } }, "input"],
  ["metadata an array", { body: { metadata: [1, 2] } }, "metadata"],
  ["metadata a string", { body: { metadata: "gold" } }, "metadata"],
  ["metadata nested too deep", { body: { metadata: nested(40) } }, `metadata${".a".repeat(31)}`],
  ["saveMessages not a boolean", { body: { saveMessages: "yes" } }, "saveMessages"],
  ["timeout.flowMs negative", { body: { timeout: { flowMs: -1 } } }, "timeout.flowMs"],
  ["timeout.stepMs not an integer", { body: { timeout: { stepMs: 1.5 } } }, "timeout.stepMs"],
  ["unknown timeout field", { body: { timeout: { forever: true } } }, "timeout.forever"],
  ["unknown field", { body: { colour: "blue" } }, "colour"],
  ["priority not a class", { body: { priority: "urgent" } }, "priority"],
  ["wait not a boolean", { body: {}, path: "?wait=maybe" }, "wait"],
  ["Idempotency-Key with a space", { body: {}, headers: { "idempotency-key": "two words" } }, "Idempotency-Key"],
  ["Idempotency-Key too long", { body: {}, headers: { "idempotency-key": "k".repeat(256) } }, "Idempotency-Key"],
];

describe("bad input", () => {
  let cluster: Cluster;
  let owner: Tenant;
  let api: ApiClient;
  let threadId: string;
  /** Every error answer of this file, checked at the end for stacks and keys. */
  const errorBodies: string[] = [];

  const call = async (request: RawRequest): Promise<RawResponse> => {
    const res = await send(cluster.baseUrl, request);
    if (res.status >= 400) errorBodies.push(res.text);
    return res;
  };
  const counts = async (): Promise<{ threads: number; flows: number; messages: number }> => {
    const db = cluster.database!.handle.db;
    return {
      threads: await db.$count(tables.threads),
      flows: await db.$count(tables.flows),
      messages: await db.$count(tables.messages),
    };
  };

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 1, env: { ADMIN_TOKEN } });
    owner = await createTenant(cluster.baseUrl, "owner");
    api = new ApiClient(cluster.baseUrl, owner.key);
    threadId = await api.createThread("bad input");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("create-flow: each wrong field is a 400 naming it by path, and nothing is stored", async () => {
    const before = await counts();
    const misses: string[] = [];
    for (const [name, body, path] of CREATE_FLOW_CASES) {
      const res = await call({ method: "POST", path: "/v1/flows", key: owner.key, body: body(threadId) });
      const paths = ((res.json?.error?.details ?? []) as { path: string }[]).map((d) => d.path);
      if (res.status !== 400 || res.json?.error?.code !== "validation_error" || !paths.includes(path))
        misses.push(`${name}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    expect(misses).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it("execute: each wrong field is a 400 naming it by path, and no run starts", async () => {
    const flowId = await api.createFlow(threadId, validDefinition());
    const misses: string[] = [];
    for (const [name, request, path] of EXECUTE_CASES) {
      const res = await call({
        method: "POST",
        key: owner.key,
        ...request,
        path: `/v1/flows/${flowId}/execute${request.path ?? ""}`,
      });
      const paths = ((res.json?.error?.details ?? []) as { path: string }[]).map((d) => d.path);
      if (res.status !== 400 || res.json?.error?.code !== "validation_error" || !paths.includes(path))
        misses.push(`${name}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    expect(misses).toEqual([]);
    const flow = await api.request<{ status: string; run: number }>("GET", `/v1/flows/${flowId}`);
    expect([flow.body.status, flow.body.run]).toEqual(["pending", 0]);
  });

  it("single-step execute: an unknown step or a wrong field is a 400 naming it, and no run starts", async () => {
    const flowId = await api.createFlow(threadId, validDefinition());
    const cases: [string, unknown, string][] = [
      ["ghost", {}, "stepId"],
      ["a", { input: 5 }, "input"],
      ["a", { timeout: { stepMs: -1 } }, "timeout.stepMs"],
    ];
    for (const [stepId, body, path] of cases) {
      const res = await call({
        method: "POST",
        path: `/v1/flows/${flowId}/steps/${stepId}/execute`,
        key: owner.key,
        body,
      });
      expect([stepId, res.status, res.json?.error?.code]).toEqual([stepId, 400, "validation_error"]);
      expect((res.json.error.details as { path: string }[]).map((d) => d.path)).toContain(path);
    }
    expect((await api.request<{ run: number }>("GET", `/v1/flows/${flowId}`)).body.run).toBe(0);
  });

  it("threads, members, messages and policies: each wrong field is a 400 naming it", async () => {
    const before = await counts();
    const cases: [RawRequest, string][] = [
      [{ method: "POST", path: "/v1/threads", body: {} }, "title"],
      [{ method: "POST", path: "/v1/threads", body: { title: "t".repeat(501) } }, "title"],
      [
        { method: "PUT", path: `/v1/threads/${threadId}/members/${owner.userId}`, body: { permissions: ["admin"] } },
        "permissions[0]",
      ],
      [{ method: "POST", path: `/v1/threads/${threadId}/messages`, body: { role: "robot", content: "hi" } }, "role"],
      [{ method: "POST", path: `/v1/threads/${threadId}/messages`, body: { role: "user", content: "" } }, "content"],
      [
        {
          method: "PUT",
          path: "/v1/policies/openai",
          body: { allowConversationHistory: true, allowCrossProviderContext: "no", allowAttachments: false },
        },
        "allowCrossProviderContext",
      ],
      [
        {
          method: "PUT",
          path: "/v1/policies/Open%20AI",
          body: { allowConversationHistory: true, allowCrossProviderContext: true, allowAttachments: false },
        },
        "providerKey",
      ],
      [{ method: "GET", path: `/v1/threads/${threadId}/flows?limit=0` }, "limit"],
      [{ method: "GET", path: `/v1/threads/${threadId}/flows?sortBy=password` }, "sortBy"],
    ];
    const misses: string[] = [];
    for (const [request, path] of cases) {
      const res = await call({ ...request, key: owner.key });
      const paths = ((res.json?.error?.details ?? []) as { path: string }[]).map((d) => d.path);
      if (res.status !== 400 || !paths.includes(path))
        misses.push(`${request.method} ${request.path}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    expect(misses).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it("abuse: oversize is 413, malformed JSON 400 without echoing it, other content types 415, bad escapes 400", async () => {
    const before = await counts();
    const big = await call({
      method: "POST",
      path: "/v1/threads",
      key: owner.key,
      rawBody: JSON.stringify({ title: "x".repeat(1_100_000) }),
      headers: { "content-type": "application/json" },
    });
    expect([big.status, big.json?.error?.code]).toEqual([413, "payload_too_large"]);
    expect(big.json.error.details).toEqual([{ path: "", message: "at most 1048576 bytes" }]);

    const malformed = await call({
      method: "POST",
      path: "/v1/threads",
      key: owner.key,
      rawBody: '{"title": "CANARY_7f3a", ',
      headers: { "content-type": "application/json" },
    });
    expect([malformed.status, malformed.json?.error?.code]).toEqual([400, "validation_error"]);
    expect(malformed.text).not.toContain("CANARY_7f3a");
    expect(malformed.text).not.toMatch(/Unexpected|position|JSON\.parse/);

    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"]) {
      const res = await call({
        method: "POST",
        path: "/v1/threads",
        key: owner.key,
        rawBody: "title=x",
        headers: { "content-type": contentType },
      });
      expect([contentType, res.status, res.json?.error?.code]).toEqual([contentType, 415, "unsupported_media_type"]);
    }
    const untyped = await call({
      method: "POST",
      path: "/v1/threads",
      key: owner.key,
      rawBody: Buffer.from('{"title":"x"}'),
    });
    expect([untyped.status, untyped.json?.error?.code]).toEqual([415, "unsupported_media_type"]);

    const badEscape = await call({ method: "GET", path: "/v1/flows/%E0%A4%A/status", key: owner.key });
    expect([badEscape.status, badEscape.json?.error?.code]).toEqual([400, "validation_error"]);
    expect(await counts()).toEqual(before);
  });

  it("__proto__ and constructor keys pollute nothing: refused where fields are fixed, inert in metadata", async () => {
    const polluting = '{"title":"t","__proto__":{"polluted":"yes"}}';
    const refused = await call({
      method: "POST",
      path: "/v1/threads",
      key: owner.key,
      rawBody: polluting,
      headers: { "content-type": "application/json" },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.details).toEqual([{ path: "__proto__", message: "is not a known field" }]);
    const ctor = await call({
      method: "POST",
      path: "/v1/threads",
      key: owner.key,
      body: { title: "t", constructor: { prototype: { polluted: "yes" } } },
    });
    expect(ctor.json.error.details).toEqual([{ path: "constructor", message: "is not a known field" }]);

    // Metadata is free-form: the keys are accepted, and neither the API nor the worker that
    // renders the prompt gains a `polluted` property anywhere.
    const probe = {
      name: "probe",
      type: "sequential",
      steps: [simStep("a", { prompt: "[{{ metadata.polluted }}][{{ metadata.tier }}]" })],
    };
    const flowId = await api.createFlow(threadId, probe);
    const rawMetadata =
      '{"input":"x","metadata":{"tier":"gold","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}';
    const first = await call({
      method: "POST",
      path: `/v1/flows/${flowId}/execute?wait=true`,
      key: owner.key,
      rawBody: rawMetadata,
      headers: { "content-type": "application/json" },
    });
    expect([first.status, first.json.status]).toEqual([200, "completed"]);
    expect(first.json.finalOutput).toContain("[][gold]");
    // A later run with no metadata at all: an Object.prototype polluted by the first would show here.
    const second = await api.execute(flowId, { input: "y" }, true);
    expect(second.body.finalOutput as string).toContain("[][]");
    // Inherited names are not metadata either.
    const inherited = await api.createFlow(threadId, {
      ...probe,
      steps: [simStep("a", { prompt: "[{{ metadata.constructor }}][{{ metadata.toString }}]" })],
    });
    expect((await api.execute(inherited, { input: "z" }, true)).body.finalOutput as string).toContain("[][]");
  });

  it("never puts a stack trace or an API key in an error body, nor a key in the logs", async () => {
    // A few more refusals that touch auth: a wrong key, a key-like body.
    await call({ method: "GET", path: "/v1/policies", key: `${owner.key}x` });
    await call({ method: "POST", path: "/v1/threads", key: owner.key, body: { title: owner.key, apiKey: owner.key } });
    expect(errorBodies.length).toBeGreaterThan(40);
    const leaks = errorBodies.filter(
      (text) =>
        /\n\s+at |\.ts:\d+|node_modules|\/work\//.test(text) || text.includes(owner.key) || text.includes(ADMIN_TOKEN),
    );
    expect(leaks).toEqual([]);
    for (const text of errorBodies)
      expect(JSON.parse(text)).toEqual({
        error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) },
      });

    const logs = cluster.processes.map((p) => readFileSync(p.logFile, "utf8")).join("\n");
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(owner.key);
    expect(logs).not.toContain(ADMIN_TOKEN);
    expect(logs).not.toContain(DEV_KEY); // set by the harness as DEV_API_KEY: shown by its prefix only
  });
});
