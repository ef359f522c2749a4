import { cpuTimeMs } from "../testing/cpu-time.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import {
  compileCondition,
  ConditionEvaluationError,
  ConditionSyntaxError,
  firstNumber,
  referencedStepIds,
  type ConditionVariables,
} from "./condition-expression.js";

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

  it("matches is RE2: a catastrophic-backtracking pattern answers at once", () => {
    // JavaScript's RegExp took ~10 s for 28 "a" and doubled per extra "a".
    const condition = compileCondition(`"${"a".repeat(28)}!".matches("^(a+)+$") || previous.matches("^(a+)+$")`);
    const { result, ms } = cpuTimeMs(() => condition.evaluate(vars(`${"a".repeat(1_000)}!`)));
    expect(result).toBe(false);
    expect(ms).toBeLessThan(1_000);
    expect(compileCondition('previous.matches("^cat(egory)?: [A-Z]+$")').evaluate(vars("category: TECHNICAL"))).toBe(
      true,
    );
    expect(compileCondition('metadata.tier.matches("^g")').evaluate(vars(""))).toBe(true);
  });

  it("refuses, when compiled, what RE2 cannot run and work that multiplies", () => {
    expect(() => compileCondition('previous.matches("a(?!b)")')).toThrow(/not an RE2 regular expression/);
    expect(() => compileCondition('previous.matches("(?=a)")')).toThrow(/not an RE2 regular expression/);
    expect(() => compileCondition('previous.split("").all(c, previous.split("").exists(d, d == c))')).toThrow(
      /inside another/,
    );
    expect(() => compileCondition("cel.bind(x, previous, x + x) == previous")).toThrow(/cel.bind/);
    // Chained comprehensions only add up, and are fine.
    expect(compileCondition('previous.split(" ").filter(w, w != "").exists(w, w == "b")').evaluate(vars("a b"))).toBe(
      true,
    );
  });

  it("stops a condition over its time budget with a clear evaluation error", () => {
    // Without a budget this grows with the square of the text (0.24 s for 20 000 characters, ×6 for 50 000).
    const condition = compileCondition('previous.split("").all(c, previous.lowerAscii().contains(c))');
    const { ms } = cpuTimeMs(() =>
      expect(() => condition.evaluate(vars("x".repeat(50_000)))).toThrow(/ran longer than its budget of \d+ ms/),
    );
    expect(ms).toBeLessThan(FLOW_LIMITS.conditionTimeBudgetMs * 5);
  });

  it("refuses a join() that would build a huge string, before building it", () => {
    const condition = compileCondition('previous.split("").map(c, previous).join("").size() > 0');
    expect(() => condition.evaluate(vars("x".repeat(2_000)))).toThrow(/join\(\) would make 4000000 characters/);
    expect(
      compileCondition('["a", "b"].join("-") == "a-b" && previous.split(",").join() == "xy"').evaluate(vars("x,y")),
    ).toBe(true);
  });

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"])(
    "a metadata key or step id named %s is plain data",
    (name) => {
      const extra = {
        steps: {
          classify: { output: "TECHNICAL", status: "success" },
          [name]: { output: "from it", status: "success" },
        },
        metadata: JSON.parse(`{"tier": "gold", "${name}": "x", "nested": {"${name}": 1}}`) as Record<string, unknown>,
      };
      expect(
        compileCondition('metadata.tier == "gold" && steps.classify.output == "TECHNICAL"').evaluate(vars("", extra)),
      ).toBe(true);
      expect(
        compileCondition(
          `metadata["${name}"] == "x" && metadata.nested["${name}"] == 1.0 && steps["${name}"].output == "from it"`,
        ).evaluate(vars("", extra)),
      ).toBe(true);
      expect(compileCondition(`"${name}" in metadata`).evaluate(vars(""))).toBe(false);
    },
  );
});
