import { FLOW_LIMITS } from "@ensemble/core";
import { STEP_PAGE_LIMITS } from "@ensemble/core";
import { TestApi } from "./support/test-api.js";

jest.setTimeout(180_000);

interface StepResult {
  stepId: string;
  status: string;
  output: string | null;
  error?: { code: string; message: string };
}

/**
 * What one flow can make is bounded (FLOW_LIMITS): the rendered request, each step's
 * output, the run's outputs together; and its results are read a page at a time. End to
 * end on real Redis and Postgres, with the sim provider (echo answers with the prompt).
 */
describe("flow bounds", () => {
  let api: TestApi;
  let user: { userId: string; key: string };
  let threadId: string;
  // One word, so no tokenizer or word-by-word streaming is in the way of the sizes.
  const bigInput = "x".repeat(FLOW_LIMITS.maxInputChars);

  beforeAll(async () => {
    api = await TestApi.start();
    user = await api.createUser();
    threadId = (await api.request<{ id: string }>(user.key, "POST", "/v1/threads", { title: "bounds" })).body.id;
  });
  afterAll(async () => {
    await api?.stop();
  });

  const echoSteps = (count: number, prompt: string) =>
    Array.from({ length: count }, (_, i) => ({
      id: `s${i + 1}`,
      provider: "sim",
      model: "echo",
      action: "generate",
      prompt,
    }));
  /** Creates and runs a flow with ?wait=true; shareStepOutputs off, so each step's request is its prompt alone. */
  const run = async (steps: unknown[], body: Record<string, unknown>) => {
    const definition = { name: "bounds", type: "sequential", steps, contextPolicy: { shareStepOutputs: false } };
    const flow = await api.request<{ id: string }>(user.key, "POST", "/v1/flows", { threadId, definition });
    expect(flow.status).toBe(201);
    const result = await api.request<{
      status: string;
      steps: StepResult[];
      error?: { code: string; message: string; stepId?: string };
    }>(user.key, "POST", `/v1/flows/${flow.body.id}/execute?wait=true`, body);
    expect(result.status).toBe(200);
    return { flowId: flow.body.id, result: result.body };
  };

  it("a prompt that can only render too large is a 400 naming the field and the limit", async () => {
    const placements = Math.floor(FLOW_LIMITS.maxRenderedPromptChars / FLOW_LIMITS.maxInputChars) + 1;
    const definition = {
      name: "too big",
      type: "sequential",
      steps: echoSteps(1, "{{ original }}".repeat(placements)),
    };
    const res = await api.request<{ error: { code: string; details: { path: string; message: string }[] } }>(
      user.key,
      "POST",
      "/v1/flows",
      { threadId, definition },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_error");
    expect(res.body.error.details).toEqual([
      {
        path: "definition.steps[0].prompt",
        message: expect.stringContaining(`over the limit of ${FLOW_LIMITS.maxRenderedPromptChars}`),
      },
    ]);
  });

  it("a step whose rendered request passes maxRenderedPromptChars fails with prompt_too_large, naming the step and the cap; the provider is not called", async () => {
    // Metadata is the caller's: its size is known only at run time.
    const big = "m".repeat(800_000);
    const { result } = await run(echoSteps(1, "{{ metadata.big }}{{ metadata.big }}{{ metadata.big }}"), {
      input: "go",
      metadata: { big },
    });
    expect(result.status).toBe("failed");
    const [step] = result.steps;
    expect(step).toMatchObject({ stepId: "s1", status: "failed", output: null, error: { code: "prompt_too_large" } });
    expect(step!.error!.message).toContain('step "s1"');
    expect(step!.error!.message).toContain(String(FLOW_LIMITS.maxRenderedPromptChars));
    expect(result.error?.stepId).toBe("s1");
  });

  it("a step whose output passes maxStepOutputChars fails with output_too_large and stores no output", async () => {
    const placements = Math.ceil(FLOW_LIMITS.maxStepOutputChars / FLOW_LIMITS.maxInputChars) + 1;
    const { flowId, result } = await run(echoSteps(1, "{{ original }}".repeat(placements)), { input: bigInput });
    expect(result.status).toBe("failed");
    expect(result.steps[0]).toMatchObject({
      stepId: "s1",
      status: "failed",
      output: null,
      error: { code: "output_too_large" },
    });
    expect(result.steps[0]!.error!.message).toContain(String(FLOW_LIMITS.maxStepOutputChars));
    const flow = await api.request<{ stepResults: StepResult[] }>(user.key, "GET", `/v1/flows/${flowId}`);
    expect(flow.body.stepResults[0]!.output).toBeNull();
  });

  it("a run whose outputs together pass maxRunOutputChars fails at the step that would pass it; GET flow stays under the cap; /steps pages the results", async () => {
    // Each step: "echo: " + 4 × the input = 800 006 characters, so the fifth passes 4 000 000.
    const perStep = 4 * FLOW_LIMITS.maxInputChars + "echo: ".length;
    const fits = Math.floor(FLOW_LIMITS.maxRunOutputChars / perStep);
    const { flowId, result } = await run(echoSteps(fits + 2, "{{ original }}".repeat(4)), { input: bigInput });
    expect(result.status).toBe("failed");
    expect(result.steps.map((s) => s.status).slice(0, fits + 1)).toEqual([
      ...Array<string>(fits).fill("success"),
      "failed",
    ]);
    const failed = result.steps[fits]!;
    expect(failed.error).toMatchObject({ code: "run_output_too_large" });
    expect(failed.error!.message).toContain(`step "s${fits + 1}"`);
    expect(failed.error!.message).toContain(String(FLOW_LIMITS.maxRunOutputChars));

    const flow = await fetch(`${api.baseUrl}/v1/flows/${flowId}`, { headers: { authorization: `Bearer ${user.key}` } });
    const flowBody = (await flow.json()) as { stepResults: StepResult[] };
    const stored = flowBody.stepResults.reduce((sum, s) => sum + (s.output?.length ?? 0), 0);
    expect(stored).toBeLessThanOrEqual(FLOW_LIMITS.maxRunOutputChars);

    // Paged: each page is near one output's size, and the pages together are GET flow's stepResults.
    const pages: { items: StepResult[]; nextCursor: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=100&cursor=${cursor}` : "?limit=100";
      const res = await fetch(`${api.baseUrl}/v1/flows/${flowId}/steps${query}`, {
        headers: { authorization: `Bearer ${user.key}` },
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeLessThan(STEP_PAGE_LIMITS.outputChars + perStep + 100_000);
      const page = JSON.parse(text) as { flowId: string; run: number; items: StepResult[]; nextCursor: string | null };
      expect(page).toMatchObject({ flowId, run: 1 });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flatMap((p) => p.items)).toEqual(flowBody.stepResults);
  });

  it("/steps: limit and cursor are validated by name; another user's flow is a 404", async () => {
    const { flowId } = await run(echoSteps(3, "{{ original }}"), { input: "small" });
    const first = await api.request<{ items: StepResult[]; nextCursor: string | null }>(
      user.key,
      "GET",
      `/v1/flows/${flowId}/steps?limit=2`,
    );
    expect(first.body.items.map((s) => s.stepId)).toEqual(["s1", "s2"]);
    const second = await api.request<{ items: StepResult[]; nextCursor: string | null }>(
      user.key,
      "GET",
      `/v1/flows/${flowId}/steps?limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(second.body).toMatchObject({ items: [expect.objectContaining({ stepId: "s3" })], nextCursor: null });

    const badLimit = await api.request<{ error: { details: { path: string }[] } }>(
      user.key,
      "GET",
      `/v1/flows/${flowId}/steps?limit=0`,
    );
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.details[0]!.path).toBe("limit");
    const badCursor = await api.request<{ error: { details: { path: string }[] } }>(
      user.key,
      "GET",
      `/v1/flows/${flowId}/steps?cursor=abc`,
    );
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.details[0]!.path).toBe("cursor");
    const stranger = await api.createUser();
    expect((await api.request(stranger.key, "GET", `/v1/flows/${flowId}/steps`)).status).toBe(404);
  });
});
