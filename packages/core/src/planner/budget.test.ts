import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { budgetExceeded } from "./budget.js";
import { planNextSteps } from "./plan-next-steps.js";
import type { StepRecord } from "./step-record.js";

const step = (id: string) => ({ id, provider: "sim", model: "echo", action: "generate", prompt: "original" });
const flow = (budget: Record<string, number>, type = "sequential") =>
  compileFlowOrThrow({ name: "b", type, budget, steps: [step("a"), step("b"), step("c")] });
const done = (stepId: string): StepRecord => ({ stepId, iteration: 0, attempt: 0, status: "success", output: stepId });
const running = (stepId: string): StepRecord => ({ stepId, iteration: 0, attempt: 0, status: "running" });

describe("budgets", () => {
  it("names the limit that was reached", () => {
    expect(budgetExceeded({ maxCostUsd: 0.01 }, { costUsd: 0.012, tokens: 5 })).toMatchObject({
      code: "budget_exceeded",
      message: expect.stringContaining("budget.maxCostUsd"),
    });
    expect(budgetExceeded({ maxTokens: 100 }, { costUsd: 0, tokens: 100 })).toMatchObject({
      code: "budget_exceeded",
      message: expect.stringContaining("budget.maxTokens"),
    });
    expect(budgetExceeded({ maxTokens: 100, maxCostUsd: 1 }, { costUsd: 0.5, tokens: 99 })).toBeNull();
    expect(budgetExceeded(undefined, { costUsd: 99, tokens: 99 })).toBeNull();
  });

  it("a spent budget fails the run and cancels the steps not yet run, keeping earlier results", () => {
    const decision = planNextSteps(flow({ maxTokens: 50 }), [done("a")], {
      originalPrompt: "x",
      spent: { costUsd: 0, tokens: 60 },
    });
    expect(decision.dispatch).toEqual([]);
    expect(decision.outcome).toMatchObject({ status: "failed", stepId: "", error: { code: "budget_exceeded" } });
    expect(decision.cancel.map((c) => c.stepId).sort()).toEqual(["b", "c"]);
  });

  it("aborts the calls still in flight (parallel steps)", () => {
    const decision = planNextSteps(flow({ maxCostUsd: 0.001 }, "parallel"), [done("a"), running("b"), running("c")], {
      originalPrompt: "x",
      spent: { costUsd: 0.002, tokens: 1 },
    });
    expect(decision.outcome).toMatchObject({ status: "failed", error: { code: "budget_exceeded" } });
    expect(decision.cancel).toEqual(
      expect.arrayContaining([
        { stepId: "b", iteration: 0, inFlight: true },
        { stepId: "c", iteration: 0, inFlight: true },
      ]),
    );
  });

  it("a run whose last step reached the budget still completes: there was nothing left to stop", () => {
    const decision = planNextSteps(flow({ maxTokens: 10 }), [done("a"), done("b"), done("c")], {
      originalPrompt: "x",
      spent: { costUsd: 0, tokens: 30 },
    });
    expect(decision.outcome).toEqual({ status: "completed", finalOutput: "c" });
  });

  it("the executing user's reached spend cap stops a run without a budget of its own, as a spent budget does", () => {
    const capped = {
      code: "budget_exceeded",
      message: "the daily spend cap of $5 (dailyUsd) is reached",
      retryable: false,
    };
    const unbudgeted = compileFlowOrThrow({ name: "c", type: "sequential", steps: [step("a"), step("b"), step("c")] });
    const decision = planNextSteps(unbudgeted, [done("a")], { originalPrompt: "x", spendCapReached: capped });
    expect(decision.dispatch).toEqual([]);
    expect(decision.outcome).toEqual({ status: "failed", stepId: "", iteration: 0, error: capped });
    expect(decision.cancel.map((c) => c.stepId).sort()).toEqual(["b", "c"]);
    // The run's own budget, when also spent, is the one named.
    const both = planNextSteps(flow({ maxTokens: 10 }), [done("a")], {
      originalPrompt: "x",
      spent: { costUsd: 0, tokens: 20 },
      spendCapReached: capped,
    });
    expect(both.outcome).toMatchObject({ error: { message: expect.stringContaining("budget.maxTokens") } });
  });

  it("within budget the run goes on", () => {
    const decision = planNextSteps(flow({ maxTokens: 100 }), [done("a")], {
      originalPrompt: "x",
      spent: { costUsd: 0, tokens: 60 },
    });
    expect(decision.dispatch.map((d) => d.stepId)).toEqual(["b"]);
  });
});
