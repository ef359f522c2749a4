import { driveRun, type Responder } from "../../test/drive-run.js";
import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { targetForAttempt } from "./step-targets.js";

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "openai",
  model: "gpt-4o",
  action: "generate",
  prompt: "original",
  ...extra,
});
const fallbacks = [
  { provider: "anthropic", model: "claude-sonnet-4-5" },
  { provider: "google", model: "gemini-2.5-flash" },
];
const withFallbacks = (extra: Record<string, unknown> = {}) => ({
  name: "f",
  type: "sequential",
  steps: [step("a", { fallbacks, ...extra })],
});

/** Answers by the attempt's provider: the listed providers fail with `error`, the others succeed. */
const failing = (
  definition: unknown,
  providers: string[],
  error: { code: string; retryable: boolean; retryAfterMs?: number },
): Responder => {
  const flow = compileFlowOrThrow(definition);
  return (d) => {
    const target = targetForAttempt(flow.byId.get(d.stepId)!, d.attempt);
    return providers.includes(target.provider)
      ? { error: { message: "no", ...error } }
      : { output: `${target.provider}:${target.model}` };
  };
};

describe("fallbacks", () => {
  it("numbers attempts across targets: the primary's, then each fallback's", () => {
    const flow = compileFlowOrThrow(withFallbacks({ retryOnFailure: true, maxRetries: 1 }));
    const a = flow.byId.get("a")!;
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => targetForAttempt(a, n).provider)).toEqual([
      "openai",
      "openai",
      "anthropic",
      "anthropic",
      "google",
      "google",
      "google",
    ]);
    expect(a.maxAttempts).toBe(6);
  });

  it("moves to the next fallback at once when the primary's retries are spent on retryable errors", () => {
    const run = driveRun(
      withFallbacks({ retryOnFailure: true, maxRetries: 1 }),
      failing(withFallbacks({ retryOnFailure: true, maxRetries: 1 }), ["openai"], {
        code: "server_error",
        retryable: true,
      }),
    );
    expect(run.dispatched.map((d) => [d.attempt, d.delayMs])).toEqual([
      [0, 0],
      [1, 1000],
      [2, 0],
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "anthropic:claude-sonnet-4-5" });
  });

  it("each fallback gets the step's retries, with backoff starting over", () => {
    const run = driveRun(
      withFallbacks({ retryOnFailure: true, maxRetries: 1 }),
      failing(withFallbacks({ retryOnFailure: true, maxRetries: 1 }), ["openai", "anthropic"], {
        code: "rate_limited",
        retryable: true,
      }),
    );
    expect(run.dispatched.map((d) => [d.attempt, d.delayMs])).toEqual([
      [0, 0],
      [1, 1000],
      [2, 0],
      [3, 1000],
      [4, 0],
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "google:gemini-2.5-flash" });
  });

  it("without retries each target is tried once", () => {
    const run = driveRun(withFallbacks(), failing(withFallbacks(), ["openai"], { code: "timeout", retryable: true }));
    expect(run.dispatched.map((d) => d.attempt)).toEqual([0, 1]);
    expect(run.outcome.status).toBe("completed");
  });

  it("a non-retryable error on the primary fails the step without trying the fallbacks", () => {
    const run = driveRun(
      withFallbacks({ retryOnFailure: true, maxRetries: 2 }),
      failing(withFallbacks({ retryOnFailure: true, maxRetries: 2 }), ["openai"], {
        code: "unauthorized",
        retryable: false,
      }),
    );
    expect(run.dispatched).toHaveLength(1);
    expect(run.outcome).toMatchObject({ status: "failed", error: { code: "unauthorized" } });
  });

  it("passes over a target that the data-sharing policy refuses", () => {
    const flow = compileFlowOrThrow(withFallbacks());
    const respond: Responder = (d) => {
      const { provider } = targetForAttempt(flow.byId.get("a")!, d.attempt);
      if (provider === "openai") return { error: { code: "server_error", message: "500", retryable: true } };
      if (provider === "anthropic")
        return { error: { code: "policy_violation", message: "forbidden", retryable: false } };
      return { output: provider };
    };
    const run = driveRun(withFallbacks(), respond);
    expect(run.dispatched.map((d) => d.attempt)).toEqual([0, 1, 2]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "google" });
  });

  it("passes over a primary refused by policy at run time (an upstream fallback changed who answered)", () => {
    const respond: Responder = (d) =>
      d.attempt === 0
        ? { error: { code: "policy_violation", message: "forbidden", retryable: false } }
        : { output: "fallback" };
    const run = driveRun(withFallbacks({ retryOnFailure: true, maxRetries: 2 }), respond);
    expect(run.dispatched.map((d) => [d.attempt, d.delayMs])).toEqual([
      [0, 0],
      [3, 0],
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "fallback" });
  });

  it("passes over a target whose model the worker's allowlist refuses", () => {
    const respond: Responder = (d) =>
      d.attempt === 0
        ? { error: { code: "model_not_allowed", message: "not in the allowlist", retryable: false } }
        : { output: "fallback" };
    const run = driveRun(withFallbacks({ retryOnFailure: true, maxRetries: 2 }), respond);
    expect(run.dispatched.map((d) => [d.attempt, d.delayMs])).toEqual([
      [0, 0],
      [3, 0],
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "fallback" });
  });

  it("fails with the last error when every target is spent", () => {
    const run = driveRun(
      withFallbacks(),
      failing(withFallbacks(), ["openai", "anthropic", "google"], { code: "server_error", retryable: true }),
    );
    expect(run.dispatched).toHaveLength(3);
    expect(run.outcome).toMatchObject({ status: "failed", stepId: "a", error: { code: "server_error" } });
  });
});
