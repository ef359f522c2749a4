import { ProviderError } from "../errors/provider-error.js";
import { createSimProvider } from "./sim-provider.js";
import { simRequest } from "./sim-test-helpers.js";

const sim = createSimProvider();

async function callError(model: string, trace?: { iteration?: number; attempt?: number }): Promise<ProviderError> {
  const request = simRequest(model);
  const error: unknown = await sim.call({ ...request, trace: { ...request.trace, ...trace } }).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  return error;
}

describe("sim provider", () => {
  it("has the key sim", () => {
    expect(sim.key).toBe("sim");
  });

  it("echo answers with the last user message, with usage at ~4 chars per token", async () => {
    const result = await sim.call(simRequest("echo"));
    expect(result).toEqual({
      text: "echo: hello world",
      finishReason: "stop",
      model: "echo",
      // prompt chars: 14 + 14 + 12 + 11 = 51 → 13; "echo: hello world" = 17 → 5.
      usage: { promptTokens: 13, completionTokens: 5, totalTokens: 18 },
    });
  });

  it("text answers exactly the URL-decoded value", async () => {
    expect((await sim.call(simRequest("text?value=Hello%2C%20world%0Aline%202"))).text).toBe("Hello, world\nline 2");
    expect((await sim.call(simRequest("text?value="))).text).toBe("");
  });

  it("label answers exactly the label", async () => {
    expect((await sim.call(simRequest("label?value=TECHNICAL"))).text).toBe("TECHNICAL");
  });

  it.each([
    [0, "0.4"],
    [1, "0.4"],
    [2, "0.6"],
    [3, "0.9"],
    [7, "0.9"],
  ])("score at iteration %i gives %s", async (iteration, score) => {
    const request = simRequest("score?values=0.4,0.6,0.9");
    const result = await sim.call({ ...request, trace: { ...request.trace, iteration } });
    expect(result.text).toBe(`${score}\nReasons: simulated evaluation`);
  });

  it("fail?times=2 fails attempts 0 and 1, then answers like echo on attempt 2", async () => {
    for (const attempt of [0, 1]) {
      expect(await callError("fail?times=2", { attempt })).toMatchObject({
        code: "server_error",
        retryable: true,
        status: 500,
        provider: "sim",
      });
    }
    const request = simRequest("fail?times=2");
    const result = await sim.call({ ...request, trace: { ...request.trace, attempt: 2 } });
    expect(result.text).toBe("echo: hello world");
  });

  it.each([
    ["rate_limited", true, 429],
    ["timeout", true, 408],
    ["server_error", true, 500],
    ["bad_request", false, 400],
    ["unauthorized", false, 401],
  ] as const)("fail with code=%s is retryable=%s", async (code, retryable, status) => {
    expect(await callError(`fail?times=1&code=${code}`)).toMatchObject({ code, retryable, status });
  });

  it("fail carries retryAfterMs", async () => {
    expect(await callError("fail?code=rate_limited&retryAfterMs=1500")).toMatchObject({
      code: "rate_limited",
      retryAfterMs: 1500,
    });
  });

  it("slow is echo after its default latency, or the one the model gives", async () => {
    const started = Date.now();
    expect((await sim.call(simRequest("slow?latencyMs=30"))).text).toBe("echo: hello world");
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("applies the provider's default latency, which the model string overrides", async () => {
    const delayed = createSimProvider({ latencyMs: 40 });
    let started = Date.now();
    await delayed.call(simRequest("echo"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    started = Date.now();
    await delayed.call(simRequest("echo?latencyMs=0"));
    expect(Date.now() - started).toBeLessThan(30);
  });

  it("rejects an unknown behaviour, naming the model and the valid behaviours", async () => {
    const err = await callError("gpt-4o");
    expect(err).toMatchObject({ code: "bad_request", retryable: false });
    expect(err.message).toBe(
      'sim model "gpt-4o": unknown sim behaviour "gpt-4o"; valid behaviours: echo, text, label, score, fail, hang, slow, clock',
    );
  });

  it.each([
    ["echo?latency=5", 'unknown parameter "latency" for echo; allowed: latencyMs, tokensPerSecond'],
    ["label", "needs ?value=…"],
    ["score", "needs ?values=…"],
    ["score?values=0.5,high", 'values must be comma-separated numbers, got "high"'],
    ["fail?code=teapot", "code must be one of"],
    ["fail?times=-1", 'times must be an integer >= 0, got "-1"'],
    ["echo?latencyMs=abc", 'latencyMs must be a number >= 0, got "abc"'],
  ])("rejects the malformed model %s", async (model, problem) => {
    const err = await callError(model);
    expect(err.code).toBe("bad_request");
    expect(err.message).toContain(problem);
  });

  it("is deterministic", async () => {
    const a = await sim.call(simRequest("score?values=0.1,0.2"));
    const b = await sim.call(simRequest("score?values=0.1,0.2"));
    expect(a).toEqual(b);
  });
});
