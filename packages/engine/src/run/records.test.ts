import type { FlowRow, StepResultRow } from "@ensemble/db";
import { compileFlowOrThrow } from "@ensemble/core";
import { planAdvance } from "./plan-advance.js";
import { flowTotals, runSpend } from "./records.js";

/** A flow row with only what the totals read; the rest is not looked at. */
const flowWith = (status: string, totalCost: number, totalTokens: number) =>
  ({ status, totalCost, totalTokens }) as FlowRow;
const rows: Pick<StepResultRow, "spentCost" | "spentTokens">[] = [
  { spentCost: 0.25, spentTokens: 100 },
  { spentCost: 0.5, spentTokens: 300 },
];

describe("a run's spend", () => {
  it("is its instances' spend plus, while it runs, its cut-off calls' (the flow row's totals)", () => {
    expect(runSpend(flowWith("running", 0, 0), rows)).toEqual({ costUsd: 0.75, tokens: 400 });
    expect(runSpend(flowWith("running", 0.125, 40), rows)).toEqual({ costUsd: 0.875, tokens: 440 });
  });

  it("shows a running run's totals from its instances and cut-off calls, an ended run's from the flow row", () => {
    expect(flowTotals(flowWith("running", 0.125, 40), rows)).toEqual({ totalCost: 0.875, totalTokens: 440 });
    expect(flowTotals(flowWith("waiting", 0.125, 40), rows)).toEqual({ totalCost: 0.875, totalTokens: 440 });
    // Ended: the flow row holds everything (the end added the instances' spend to the cut-off calls').
    expect(flowTotals(flowWith("completed", 0.875, 440), rows)).toEqual({ totalCost: 0.875, totalTokens: 440 });
    expect(flowTotals(flowWith("running", 0.125, 40))).toEqual({ totalCost: 0.125, totalTokens: 40 });
  });
});

describe("a run's budget", () => {
  const definition = {
    name: "budgeted",
    type: "sequential" as const,
    budget: { maxCostUsd: 1 },
    steps: [
      { id: "a", provider: "sim", model: "echo", action: "generate" as const, prompt: "{{ original }}" },
      { id: "b", provider: "sim", model: "echo", action: "generate" as const, prompt: "{{ previous }}" },
    ],
  };
  const compiled = compileFlowOrThrow(definition);
  const flow = (totalCost: number) =>
    ({
      id: "f",
      run: 1,
      name: "budgeted",
      status: "running",
      input: "in",
      metadata: {},
      currentStepIndex: 0,
      totalCost,
      totalTokens: 0,
    }) as unknown as FlowRow;
  const runRows = [
    {
      id: "s-a",
      flowId: "f",
      run: 1,
      stepId: "a",
      stepIndex: 0,
      iteration: 0,
      attempt: 0,
      status: "success",
      output: "out",
      provider: "sim",
      model: "echo",
      error: null,
      spentCost: 0.75,
      spentTokens: 10,
    },
    // Still out: a spent budget stops a run that has work left.
    {
      id: "s-b",
      flowId: "f",
      run: 1,
      stepId: "b",
      stepIndex: 1,
      iteration: 0,
      attempt: 0,
      status: "running",
      output: null,
      provider: "sim",
      model: "echo",
      error: null,
      spentCost: 0,
      spentTokens: 0,
    },
  ] as unknown as StepResultRow[];

  it("counts the run's calls cut off by a lost lease", () => {
    expect(planAdvance(flow(0), compiled, runRows, { lifo: true }).decision.outcome).toBeNull();
    expect(planAdvance(flow(0.25), compiled, runRows, { lifo: true }).decision.outcome).toMatchObject({
      status: "failed",
      error: { code: "budget_exceeded" },
    });
  });
});
