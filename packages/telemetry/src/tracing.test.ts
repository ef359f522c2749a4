import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { newRunTrace, recordRunSpan, withStepAttemptSpan } from "./run-trace.js";
import { withProviderCallSpan, type ProviderCallEnd } from "./provider-call-span.js";
import { startTracing, tracesRequested, tracingEnabled, type Tracing } from "./tracing.js";

const call = { provider: "anthropic", model: "claude-x", settings: { temperature: 0.2 }, attempt: 1, fallbackIndex: 0 };
const answer: ProviderCallEnd = {
  model: "claude-x-2026",
  finishReason: "stop",
  usage: { promptTokens: 10, completionTokens: 4, cachedTokens: 6, cacheWriteTokens: 3 },
  text: "the answer",
  costUsd: 0.001,
};

describe("tracesRequested", () => {
  it("follows the standard OTEL_* variables", () => {
    expect(tracesRequested({})).toBe(false);
    expect(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracesRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    expect(tracesRequested({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_SDK_DISABLED: "true" })).toBe(false);
  });
});

describe("with tracing off", () => {
  it("does not load the OpenTelemetry SDK", () => {
    // A process of its own, so modules load fresh: the SDK packages it resolves, after a
    // start with tracing off and after one with tracing on.
    const probe = `
      import { registerHooks } from "node:module";
      const sdk = new Set();
      registerHooks({
        resolve(specifier, context, next) {
          const resolved = next(specifier, context);
          const name = /@opentelemetry\\/(sdk-trace|exporter-trace-otlp-http|resources)\\//.exec(resolved.url)?.[1];
          if (name) sdk.add(name);
          return resolved;
        },
      });
      const { startTracing } = await import(${JSON.stringify(pathToFileURL(join(__dirname, "index.ts")).href)});
      await startTracing({ serviceName: "off", env: {} });
      const off = [...sdk];
      const on = await startTracing({ serviceName: "on", env: { OTEL_TRACES_EXPORTER: "otlp" } });
      await on.shutdown();
      console.log(JSON.stringify({ off, on: [...sdk].sort() }));`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", probe], {
      cwd: __dirname,
      encoding: "utf8",
    });
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ off: [], on: ["exporter-trace-otlp-http", "resources", "sdk-trace"] });
  });

  it("runs the functions and records nothing", async () => {
    expect(tracingEnabled()).toBe(false);
    expect(newRunTrace()).toBeNull();
    await expect(
      withProviderCallSpan(
        { ...call, messages: [] },
        async () => answer,
        (r) => r,
      ),
    ).resolves.toBe(answer);
  });
});

describe("with tracing on", () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await startTracing({ serviceName: "test", exporter });
  });
  afterAll(async () => {
    await tracing.shutdown();
  });
  afterEach(() => {
    exporter.reset();
    delete process.env.ENSEMBLE_TRACE_CONTENT;
  });

  const messages = [{ role: "user", content: "a private prompt" }];

  it("a run's span carries the id its steps name as parent, from the run's start to its end", async () => {
    const runTrace = newRunTrace()!;
    expect(runTrace.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await withStepAttemptSpan(
      runTrace,
      { flowId: "f1", run: 1, stepId: "s1", iteration: 0, attempt: 0 },
      () =>
        withProviderCallSpan(
          { ...call, messages },
          async () => answer,
          (r) => r,
        ),
      () => "done",
    );
    const startedAt = new Date(Date.now() - 5_000);
    recordRunSpan(runTrace, {
      flowId: "f1",
      run: 1,
      name: "review",
      status: "completed",
      startedAt,
      endedAt: new Date(),
      costUsd: 0.001,
    });
    const spans = exporter.getFinishedSpans();
    const run = spans.find((s) => s.name === "run review")!;
    const step = spans.find((s) => s.name === "step s1")!;
    const chat = spans.find((s) => s.name === "chat claude-x")!;
    const [, traceId, runSpanId] = runTrace.traceparent.split("-");
    expect(run.spanContext()).toMatchObject({ traceId, spanId: runSpanId });
    expect(step.parentSpanContext?.spanId).toBe(runSpanId);
    expect(chat.parentSpanContext?.spanId).toBe(step.spanContext().spanId);
    expect(run.startTime[0]).toBe(Math.floor(startedAt.getTime() / 1000));
    expect(chat.attributes).toMatchObject({
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-x",
      "gen_ai.response.model": "claude-x-2026",
      "gen_ai.usage.input_tokens": 10,
      "gen_ai.usage.output_tokens": 4,
      "gen_ai.usage.cache_read.input_tokens": 6,
      "gen_ai.usage.cache_creation.input_tokens": 3,
      "gen_ai.request.temperature": 0.2,
      "ensemble.cost_usd": 0.001,
      "ensemble.attempt": 1,
    });
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("private prompt");
  });

  it("records prompts and outputs only with ENSEMBLE_TRACE_CONTENT=true", async () => {
    process.env.ENSEMBLE_TRACE_CONTENT = "true";
    await withProviderCallSpan(
      { ...call, messages },
      async () => answer,
      (r) => r,
    );
    const [chat] = exporter.getFinishedSpans();
    expect(chat?.attributes["gen_ai.input.messages"]).toContain("a private prompt");
    expect(chat?.attributes["gen_ai.output.messages"]).toContain("the answer");
  });

  it("a failed call's span has the error's code", async () => {
    const failure = Object.assign(new Error("slow down"), { code: "rate_limited" });
    await expect(
      withProviderCallSpan(
        { ...call, messages },
        async () => {
          throw failure;
        },
        (r: ProviderCallEnd) => r,
      ),
    ).rejects.toBe(failure);
    const [chat] = exporter.getFinishedSpans();
    expect(chat?.attributes["error.type"]).toBe("rate_limited");
    expect(chat?.status).toMatchObject({ code: 2, message: "slow down" });
  });
});
