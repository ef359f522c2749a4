import { compileCondition, ConditionEvaluationError, ConditionSyntaxError, firstNumber, referencedStepIds, type ConditionVariables } from "./condition-expression.js";

const vars = (previous: string, extra: Partial<ConditionVariables> = {}): ConditionVariables => ({
  previous,
  original: "the request",
  draft: "",
  steps: { classify: { output: "TECHNICAL", status: "success" } },
  metadata: { tier: "gold" },
  iteration: 2,
  ...extra,
});

describe("conditions (CEL)", () => {
  it.each([
    ['previous.contains("TECHNICAL")', "Category: TECHNICAL", true],
    ['previous.contains("TECHNICAL")', "CREATIVE", false],
    ["firstNumber(previous) > 0.7", "complexity: 0.82", true],
    ["firstNumber(previous) > 0.7", "complexity: 0.5", false],
    ['firstNumber(previous) > 0.7 && !previous.contains("ERROR")', "0.9 looks fine", true],
    ['firstNumber(previous) > 0.7 && !previous.contains("ERROR")', "0.9 but ERROR in line 3", false],
    ['steps.classify.output == "TECHNICAL" && steps["classify"].status == "success"', "", true],
    ['metadata.tier == "gold" && iteration < 3 && original.startsWith("the")', "", true],
  ])("%s with previous=%j → %s", (source, previous, expected) => {
    expect(compileCondition(source).evaluate(vars(previous))).toBe(expected);
  });

  it("rejects malformed and non-boolean expressions when compiled, with a one-line reason", () => {
    expect(() => compileCondition('previous.contains("X"')).toThrow(ConditionSyntaxError);
    expect(() => compileCondition("1 + 2")).toThrow(/must be true or false/);
    expect(() => compileCondition("unknownVar == 1")).toThrow(ConditionSyntaxError);
    expect(() => compileCondition("x".repeat(2_000))).toThrow(/longer than/);
  });

  it("cannot reach JavaScript: no eval, no globals, no prototype walking", () => {
    expect(() => compileCondition('previous.constructor("return process")()')).toThrow(ConditionSyntaxError);
    expect(() => compileCondition("process.exit(1) == null")).toThrow(ConditionSyntaxError);
    const proto = compileCondition('metadata.__proto__ == "x"');
    expect(() => proto.evaluate(vars(""))).toThrow(ConditionEvaluationError);
  });

  it("reports a run-time failure (a missing metadata key) as an evaluation error", () => {
    const condition = compileCondition('metadata.plan == "pro"');
    expect(() => condition.evaluate(vars(""))).toThrow(ConditionEvaluationError);
  });

  it("firstNumber finds the first decimal number, or 0", () => {
    expect(firstNumber("Score: 0.85 (of 1)")).toBe(0.85);
    expect(firstNumber("-2 degrees")).toBe(-2);
    expect(firstNumber("7/10")).toBe(7);
    expect(firstNumber("no number")).toBe(0);
  });

  it("lists the step ids a condition names", () => {
    expect(referencedStepIds('steps.a.output.contains("x") || steps["b"].status == "failed"')).toEqual(["a", "b"]);
  });
});
