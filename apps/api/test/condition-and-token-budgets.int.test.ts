import { TestApi } from "./support/test-api.js";

jest.setTimeout(60_000);

// Conditions and token counting run on tenants' text: these run real flows (scheduler and
// worker in this process, real Redis and Postgres) and look at what the caller gets back.

interface StepResult {
  stepId: string;
  status: string;
  output: string | null;
  error?: { code: string; message: string };
}
interface RunResult {
  status: string;
  steps: StepResult[];
  error?: { code: string; message: string; stepId?: string };
}

const simStep = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "sim",
  model: "echo",
  action: "generate",
  prompt: "{{ previous }}",
  ...extra,
});

describe("condition and token budgets, through the API", () => {
  let api: TestApi;
  let key: string;

  beforeAll(async () => {
    api = await TestApi.start();
    ({ key } = await api.createUser());
  });
  afterAll(async () => {
    await api?.stop();
  });

  const execute = async (definition: unknown, body: Record<string, unknown>): Promise<RunResult> => {
    const thread = await api.request<{ id: string }>(key, "POST", "/v1/threads", { title: "budgets" });
    const flow = await api.request<{ id: string }>(key, "POST", "/v1/flows", { threadId: thread.body.id, definition });
    expect(flow.status).toBe(201);
    const run = await api.request<RunResult>(key, "POST", `/v1/flows/${flow.body.id}/execute?wait=true`, body);
    expect(run.status).toBe(200);
    return run.body;
  };

  it("step ids and metadata keys named constructor or toString work in conditions", async () => {
    const definition = {
      name: "reserved names",
      type: "sequential",
      steps: [
        { id: "constructor", provider: "sim", model: "label?value=TECHNICAL", action: "analyze", prompt: "classify" },
        simStep("toString", {
          condition:
            'steps.constructor.output == "TECHNICAL" && metadata.constructor == "yes" && metadata["toString"] == "no"',
        }),
        simStep("skipped", { condition: 'steps["toString"].status != "success" || metadata.tier != "gold"' }),
      ],
    };
    const result = await execute(definition, {
      input: "hi",
      metadata: { tier: "gold", constructor: "yes", toString: "no", ["__proto__"]: "dropped by the API" },
    });
    expect(result.steps.slice(0, 2).map((s) => s.error)).toEqual([undefined, undefined]);
    expect(result.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["constructor", "success"],
      ["toString", "success"],
      ["skipped", "skipped"],
    ]);
    expect(result.status).toBe("completed");
  });

  it("refuses, with a 400 naming the field, a pattern RE2 cannot run and nested comprehensions", async () => {
    const thread = await api.request<{ id: string }>(key, "POST", "/v1/threads", { title: "budgets" });
    for (const [condition, message] of [
      ['previous.matches("(a+)+(?=b)")', /not an RE2 regular expression/],
      ['previous.split("").all(c, previous.split("").exists(d, d == c))', /inside another/],
    ] as const) {
      const res = await api.request<{ error: { code: string; details: { path: string; message: string }[] } }>(
        key,
        "POST",
        "/v1/flows",
        {
          threadId: thread.body.id,
          definition: { name: "bad", type: "sequential", steps: [simStep("a"), simStep("b", { condition })] },
        },
      );
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("validation_error");
      expect(res.body.error.details).toEqual([
        expect.objectContaining({ path: "definition.steps[1].condition", message: expect.stringMatching(message) }),
      ]);
    }
  });

  it("a backtracking regex answers at once, and a condition over its time budget fails its step with a clear error", async () => {
    const start = Date.now();
    const redos = await execute(
      {
        name: "redos",
        type: "sequential",
        steps: [simStep("a"), simStep("b", { condition: 'previous.matches("^(a+)+$")' })],
      },
      { input: `${"a".repeat(40)}!` },
    );
    expect(redos.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["a", "success"],
      ["b", "skipped"],
    ]);
    const slow = await execute(
      {
        name: "slow",
        type: "sequential",
        steps: [
          simStep("a"),
          simStep("b", { condition: 'previous.split("").all(c, previous.lowerAscii().contains(c))' }),
        ],
      },
      { input: "x".repeat(50_000) },
    );
    expect(slow.status).toBe("failed");
    const failed = slow.steps.find((s) => s.stepId === "b");
    expect(failed?.error).toEqual(
      expect.objectContaining({
        code: "condition_error",
        message: expect.stringMatching(/ran longer than its budget of \d+ ms/),
      }),
    );
    // Before: the regex over 40 "a" would not end (each "a" doubles the time); the comprehension is quadratic in the text.
    expect(Date.now() - start).toBeLessThan(10_000);
  });

  it("a 15 000-character word through {{ previous }} with maxSharedTokens is trimmed in well under a second", async () => {
    const definition = {
      name: "long word",
      type: "sequential",
      contextPolicy: { maxSharedTokens: 100, includeOriginalPrompt: false },
      steps: [simStep("a"), simStep("b")],
    };
    const start = Date.now();
    const result = await execute(definition, { input: "m".repeat(15_000) });
    expect(result.status).toBe("completed");
    // The echo of step b holds the trimmed context: about 100 tokens of "m", not 15 000 characters.
    expect(result.steps[1]?.output?.length).toBeLessThan(1_000);
    // Before: ~1 minute of blocked event loop per trimmed step.
    expect(Date.now() - start).toBeLessThan(10_000);
  });
});
