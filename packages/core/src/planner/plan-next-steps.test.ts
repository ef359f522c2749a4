import { driveRun, step, type Responder } from "../../test/drive-run.js";
import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import { planNextSteps } from "./plan-next-steps.js";
import { cpuTimeMs } from "../testing/cpu-time.js";

const echo: Responder = (d, input) => ({ output: `${d.stepId}(${input})` });

describe("planNextSteps — flow types", () => {
  it("sequential: each step after the one before, seeing its output as previous", () => {
    const run = driveRun({ name: "s", type: "sequential", steps: [step("a"), step("b"), step("c")] }, echo);
    expect(run.ran).toEqual(["a#0", "b#0", "c#0"]);
    expect(run.inputs["b#0"]).toBe("a(the request)");
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "c(b(a(the request)))" });
    expect(run.decisions.map((d) => d.dispatch.length)).toEqual([1, 1, 1, 0]);
  });

  it("parallel: every plain step at once, then the aggregate step sees all outputs, labelled", () => {
    const def = {
      name: "p",
      type: "parallel",
      steps: [
        step("x"),
        step("y", { provider: "openai", model: "gpt-4o" }),
        step("z"),
        step("agg", { action: "compare", prompt: "Compare:\n{{ all }}", aggregate: true }),
      ],
    };
    const run = driveRun(def, (d, input) => ({
      output: d.stepId === "agg" ? `compared ${input.length}` : `answer ${d.stepId}`,
    }));
    expect(run.decisions[0]?.dispatch.map((d) => d.stepId)).toEqual(["x", "y", "z"]);
    expect(run.decisions[1]?.dispatch.map((d) => d.stepId)).toEqual(["agg"]);
    expect(run.inputs["agg#0"]).toBe(
      "### x (sim/echo)\nanswer x\n\n### y (openai/gpt-4o)\nanswer y\n\n### z (sim/echo)\nanswer z",
    );
    expect(run.outcome.status).toBe("completed");
    expect(run.outcome.status === "completed" && run.outcome.finalOutput).toMatch(/^compared \d+$/);
  });

  it("parallel without an aggregate step: the final output is every answer, labelled", () => {
    const run = driveRun({ name: "p", type: "parallel", steps: [step("x"), step("y")] }, (d) => ({
      output: d.stepId.toUpperCase(),
    }));
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "### x (sim/echo)\nX\n\n### y (sim/echo)\nY" });
  });

  const smartRouting = {
    name: "Smart Expert Routing",
    type: "conditional",
    steps: [
      step("classify", { action: "analyze", prompt: "Classify as TECHNICAL/CREATIVE/ANALYTICAL: {{ original }}" }),
      step("technical_expert", { prompt: "original", condition: 'previous.contains("TECHNICAL")' }),
      step("creative_expert", { prompt: "original", condition: 'previous.contains("CREATIVE")' }),
    ],
  };

  it("conditional (seed Example 3): the matching expert runs and sees the classifier as previous; the other is skipped", () => {
    const run = driveRun(smartRouting, (d, input) => ({
      output: d.stepId === "classify" ? "CREATIVE" : `${d.stepId} saw ${input}`,
    }));
    expect(run.ran).toEqual(["classify#0", "creative_expert#0"]);
    expect(run.inputs["creative_expert#0"]).toBe("CREATIVE");
    const skipped = run.decisions.flatMap((d) => d.skip);
    expect(skipped).toEqual([
      { stepId: "technical_expert", iteration: 0, reason: 'condition is false: previous.contains("TECHNICAL")' },
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "creative_expert saw CREATIVE" });
  });

  it("conditional: a score parsed from the previous output gates a step; an unguarded step joins the branches", () => {
    const def = {
      name: "score",
      type: "conditional",
      steps: [
        step("rate"),
        step("expert", { condition: 'firstNumber(previous) > 0.7 && !previous.contains("ERROR")' }),
        step("basic", { condition: "firstNumber(previous) <= 0.7" }),
        step("wrap", { prompt: "Wrap up: {{ previous }}" }),
      ],
    };
    const high = driveRun(def, (d, input) => ({
      output: d.stepId === "rate" ? "score: 0.93" : `${d.stepId}<${input}>`,
    }));
    expect(high.ran).toEqual(["rate#0", "expert#0", "wrap#0"]);
    expect(high.outcome).toEqual({ status: "completed", finalOutput: "wrap<expert<score: 0.93>>" });
    const flagged = driveRun(def, (d, input) => ({
      output: d.stepId === "rate" ? "0.9 but ERROR" : `${d.stepId}<${input}>`,
    }));
    expect(flagged.ran).toEqual(["rate#0", "wrap#0"]);
    expect(
      flagged.records
        .filter((r) => r.status === "skipped")
        .map((r) => r.stepId)
        .sort(),
    ).toEqual(["basic", "expert"]);
    expect(flagged.inputs["wrap#0"]).toBe("0.9 but ERROR");
  });

  it("critique: generate → critique (sees the draft) → refine (sees draft and critique)", () => {
    const def = {
      name: "c",
      type: "critique",
      steps: [
        step("generate"),
        step("critique", { action: "critique" }),
        step("refine", { action: "refine", prompt: "Improve using:\n{{ previous }}" }),
      ],
    };
    const run = driveRun(def, (d) => ({ output: `${d.stepId} text` }));
    expect(run.inputs["critique#0"]).toBe("generate text");
    expect(run.inputs["refine#0"]).toBe(
      "### generate (sim/echo)\ngenerate text\n\n### critique (sim/echo)\ncritique text",
    );
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "refine text" });
  });
});

describe("planNextSteps — refinement loop", () => {
  const refinement = (maxIterations: number) => ({
    name: "r",
    type: "refinement",
    maxIterations,
    qualityThreshold: 0.85,
    steps: [
      step("draft"),
      step("evaluate", { action: "evaluate", prompt: "Score 0-1: {{ draft }}" }),
      step("refine", { action: "refine", prompt: "Improve {{ draft }} given {{ previous }}" }),
    ],
  });
  const scored = (scores: number[]): Responder => {
    let n = 0;
    return (d) =>
      d.stepId === "evaluate" ? { output: `${scores[n++] ?? 0}\nreasons` } : { output: `${d.stepId}${d.iteration}` };
  };

  it("repeats evaluate → refine until the score reaches the threshold; each iteration is its own result", () => {
    const run = driveRun(refinement(5), scored([0.5, 0.6, 0.9]));
    expect(run.ran).toEqual(["draft#0", "evaluate#1", "refine#1", "evaluate#2", "refine#2", "evaluate#3"]);
    expect(run.inputs["evaluate#2"]).toBe("refine1");
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "refine2" });
    expect(run.records.filter((r) => r.stepId === "evaluate").map((r) => r.iteration)).toEqual([1, 2, 3]);
  });

  it("accepts the first draft when it already passes; refine is then skipped as not reached", () => {
    const run = driveRun(refinement(5), scored([0.95]));
    expect(run.ran).toEqual(["draft#0", "evaluate#1"]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "draft0" });
    expect(run.records.find((r) => r.stepId === "refine")).toMatchObject({ status: "skipped", iteration: 1 });
  });

  it("a loop that never reaches its threshold stops after maxIterations evaluations with the last draft", () => {
    const run = driveRun(refinement(3), scored([0.1, 0.2, 0.3, 0.99]));
    expect(run.ran).toEqual(["draft#0", "evaluate#1", "refine#1", "evaluate#2", "refine#2", "evaluate#3"]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "refine2" });
  });

  it("renders {{ iteration }}-dependent work per iteration and runs steps after the loop once it ends", () => {
    const def = {
      ...refinement(2),
      steps: [...refinement(2).steps, step("publish", { prompt: "Publish {{ draft }}" })],
    };
    const run = driveRun(def, scored([0.1, 0.2]));
    expect(run.ran).toEqual(["draft#0", "evaluate#1", "refine#1", "evaluate#2", "publish#0"]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "refine1" });
  });
});

describe("planNextSteps — condition time", () => {
  it("all conditions of one plan share one budget: a slow loop condition read by 40 steps costs about 1 s, not 40 × 100 ms", () => {
    const after = Array.from({ length: 40 }, (_, i) => step(`after${i}`, { dependsOn: ["fix"] }));
    const flow = compileFlowOrThrow({
      name: "slow until",
      type: "sequential",
      loop: {
        steps: ["check", "fix"],
        until: 'previous.split("").all(c, previous.lowerAscii().contains(c))',
        maxIterations: 3,
      },
      steps: [step("check"), step("fix"), ...after],
    });
    const long = "x".repeat(50_000);
    const records = ["check", "fix"].map((stepId) => ({
      stepId,
      iteration: 1,
      attempt: 0,
      status: "success" as const,
      output: long,
    }));
    const { result: decision, ms: elapsed } = cpuTimeMs(() => planNextSteps(flow, records, { originalPrompt: "q" }));
    expect(decision.outcome).toMatchObject({
      status: "failed",
      error: { code: "condition_error", message: expect.stringMatching(/budget of \d+ ms|already took 1000 ms/) },
    });
    // Each evaluation is stopped at 100 ms; without the shared budget this plan took over 4 s.
    expect(elapsed).toBeLessThan(FLOW_LIMITS.conditionPlanBudgetMs + 1_500);
  });
});

describe("planNextSteps — retries and failures", () => {
  const failThen = (failures: number, retryable = true): Responder => {
    let left = failures;
    return (d) =>
      d.stepId === "b" && left-- > 0
        ? { error: { code: "provider_error", message: "boom", retryable } }
        : { output: d.stepId };
  };

  it("re-dispatches a failed attempt with exponential backoff while retries are left", () => {
    const def = {
      name: "r",
      type: "sequential",
      steps: [step("a"), step("b", { retryOnFailure: true, maxRetries: 3 }), step("c")],
    };
    const run = driveRun(def, failThen(2));
    expect(run.dispatched.filter((d) => d.stepId === "b").map((d) => [d.attempt, d.delayMs])).toEqual([
      [0, 0],
      [1, 1000],
      [2, 2000],
    ]);
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "c" });
  });

  it("honours a longer retry-after from the provider", () => {
    const def = { name: "r", type: "sequential", steps: [step("b", { retryOnFailure: true, maxRetries: 1 })] };
    let first = true;
    const run = driveRun(def, () =>
      first
        ? ((first = false), { error: { code: "rate_limited", message: "429", retryable: true, retryAfterMs: 7000 } })
        : { output: "ok" },
    );
    expect(run.dispatched.map((d) => d.delayMs)).toEqual([0, 7000]);
  });

  it("when retries run out the flow fails at that step, earlier results kept, later steps cancelled", () => {
    const def = {
      name: "r",
      type: "sequential",
      steps: [step("a"), step("b", { retryOnFailure: true, maxRetries: 1 }), step("c")],
    };
    const run = driveRun(def, failThen(5));
    expect(run.outcome).toMatchObject({ status: "failed", stepId: "b", error: { code: "provider_error" } });
    expect(run.records.find((r) => r.stepId === "a")).toMatchObject({ status: "success", output: "a" });
    expect(run.records.find((r) => r.stepId === "b")).toMatchObject({ status: "failed", attempt: 1 });
    expect(run.records.find((r) => r.stepId === "c")).toMatchObject({ status: "cancelled" });
  });

  it("a non-retryable error fails at once even with retries left", () => {
    const def = { name: "r", type: "sequential", steps: [step("b", { retryOnFailure: true, maxRetries: 3 })] };
    const run = driveRun(def, failThen(1, false));
    expect(run.dispatched).toHaveLength(1);
    expect(run.outcome).toMatchObject({ status: "failed", stepId: "b" });
  });

  it("without retryOnFailure a step is tried once", () => {
    const run = driveRun({ name: "r", type: "sequential", steps: [step("b")] }, failThen(1));
    expect(run.dispatched).toHaveLength(1);
    expect(run.outcome.status).toBe("failed");
  });

  it("an optional step that fails does not fail the flow; the next step sees the last success", () => {
    const def = { name: "o", type: "sequential", steps: [step("a"), step("b", { optional: true }), step("c")] };
    const run = driveRun(def, failThen(9));
    expect(run.outcome).toEqual({ status: "completed", finalOutput: "c" });
    expect(run.inputs["c#0"]).toBe("a");
  });

  it("a step that fails for good cancels the steps still running", () => {
    const flow = compileFlowOrThrow({
      name: "p",
      type: "parallel",
      steps: [step("a"), step("b"), step("agg", { aggregate: true })],
    });
    const decision = planNextSteps(
      flow,
      [
        {
          stepId: "a",
          iteration: 0,
          attempt: 0,
          status: "failed",
          error: { code: "bad_request", message: "400", retryable: false },
        },
        { stepId: "b", iteration: 0, attempt: 0, status: "running" },
      ],
      { originalPrompt: "q" },
    );
    expect(decision.outcome).toMatchObject({ status: "failed", stepId: "a" });
    expect(decision.cancel).toEqual([
      { stepId: "b", iteration: 0, inFlight: true },
      { stepId: "agg", iteration: 0, inFlight: false },
    ]);
    expect(decision.dispatch).toEqual([]);
  });

  it("a parallel sibling that fails ends the flow; the aggregate never runs", () => {
    const def = { name: "p", type: "parallel", steps: [step("a"), step("b"), step("agg", { aggregate: true })] };
    const run = driveRun(def, (d) =>
      d.stepId === "a" ? { error: { code: "x", message: "no", retryable: false } } : { output: "fine" },
    );
    expect(run.outcome).toMatchObject({ status: "failed", stepId: "a" });
    expect(run.records.find((r) => r.stepId === "agg")).toMatchObject({ status: "cancelled" });
  });

  it("a condition that errors at run time fails the step with condition_error", () => {
    const def = {
      name: "c",
      type: "conditional",
      steps: [step("a"), step("b", { condition: "metadata.tier == 'gold'" })],
    };
    const run = driveRun(def, (d) => ({ output: d.stepId }));
    expect(run.outcome).toMatchObject({ status: "failed", stepId: "b", error: { code: "condition_error" } });
    const ok = driveRun(def, (d) => ({ output: d.stepId }), { originalPrompt: "q", metadata: { tier: "gold" } });
    expect(ok.ran).toEqual(["a#0", "b#0"]);
  });

  it("a hook condition is dispatched for the worker to check", () => {
    const def = { name: "h", type: "conditional", steps: [step("a"), step("b", { condition: { hook: "isUrgent" } })] };
    const run = driveRun(def, (d) => ({ output: d.stepId }));
    expect(run.dispatched.find((d) => d.stepId === "b")?.checkHookCondition).toBe(true);
  });
});

describe("inputFrom", () => {
  const def = (inputFrom: string) => ({
    name: "i",
    type: "sequential",
    steps: [step("a"), step("b"), step("c", { inputFrom, prompt: "use {{ previous }}" })],
  });
  it.each([
    ["previous", "b"],
    ["original", "the request"],
    ["a", "a"],
    ["all", "### a (sim/echo)\na\n\n### b (sim/echo)\nb"],
  ])("inputFrom %s", (inputFrom, expected) => {
    const run = driveRun(def(inputFrom), (d) => ({ output: d.stepId }));
    expect(run.inputs["c#0"]).toBe(expected);
  });
});
