import { cpuTimeMs } from "../testing/cpu-time.js";
import fc from "fast-check";
import { FLOW_LIMITS } from "../schema/limits.js";
import {
  compileCondition,
  ConditionEvaluationError,
  ConditionSyntaxError,
  type ConditionVariables,
} from "./condition-expression.js";

/**
 * Conditions are written by tenants and read text from providers: for any source (of
 * bounded size) and any variables, compiling throws only ConditionSyntaxError,
 * evaluating gives a boolean or throws only ConditionEvaluationError, and each takes
 * less than a fixed time. These are bounds, not benchmarks.
 */

/**
 * Compile plus one evaluation: the budget, plus room for the one built-in call (a split
 * of a long text) that is running when the budget ends and cannot be interrupted, and
 * for a busy test machine.
 */
const MAX_MS = FLOW_LIMITS.conditionTimeBudgetMs * 5;

const RESERVED = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "prototype"];
const key = fc.oneof(fc.constantFrom(...RESERVED, "tier", "a"), fc.string({ maxLength: 8 }));
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  // Long runs: what backtracking regexes and quadratic loops choke on.
  fc
    .tuple(fc.constantFrom("a", "x", " ", "é", "\u0000"), fc.nat(20_000), fc.constantFrom("", "!", "b"))
    .map(([c, n, end]) => c.repeat(n) + end),
);

const variables: fc.Arbitrary<ConditionVariables> = fc.record({
  previous: text,
  original: text,
  draft: fc.string({ unit: "binary", maxLength: 100 }),
  steps: fc.dictionary(key, fc.record({ output: text, status: fc.constantFrom("success", "failed", "skipped") }), {
    maxKeys: 4,
  }),
  metadata: fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  iteration: fc.nat(20),
});

/** Pieces of CEL that reach the costly parts: regexes, splits, joins, macros. */
const regex = fc.oneof(
  fc.constantFrom("^(a+)+$", "(a|a)*b", "^(a|aa)+$", "(x+x+)+y", "[a-z]+", "^$", ".*", "a{1000}", "(?i)TECH"),
  fc.string({
    unit: fc.constantFrom("a", "(", ")", "+", "*", "?", "|", "[", "]", "^", "$", ".", "\\", "{", "}", "1", ","),
    maxLength: 16,
  }),
);
const quoted = (s: string): string => JSON.stringify(s);
const grammar = fc.letrec<{ str: string; bool: string; list: string }>((tie) => ({
  str: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(
      "previous",
      "original",
      "draft",
      '("constructor" in steps ? steps.constructor.output : "")',
      '("constructor" in metadata ? string(metadata["constructor"]) : "")',
      "string(iteration)",
    ),
    fc.string({ maxLength: 12 }).map(quoted),
    fc.tuple(tie("str"), tie("str")).map(([a, b]) => `(${a} + ${b})`),
    tie("str").map((s) => `${s}.lowerAscii()`),
    tie("list").map((l) => `${l}.join("-")`),
    tie("list").map((l) => `${l}.join()`),
  ),
  list: fc.oneof(
    { depthSize: "small" },
    fc.tuple(tie("str"), fc.constantFrom("", " ", ",", "a")).map(([s, sep]) => `${s}.split(${quoted(sep)})`),
    fc.tuple(tie("str"), tie("str")).map(([s, t]) => `${s}.split("").map(c, (c + ${t}))`),
    tie("str").map((s) => `${s}.split("").filter(c, c != "a")`),
  ),
  bool: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("true", "false", "iteration < 3", '"tier" in metadata', "has(metadata.constructor)"),
    fc.tuple(tie("str"), tie("str")).map(([a, b]) => `${a}.contains(${b})`),
    fc.tuple(tie("str"), regex).map(([s, r]) => `${s}.matches(${quoted(r)})`),
    fc.tuple(tie("str"), tie("str")).map(([s, r]) => `${s}.matches(${r})`),
    fc.tuple(tie("str"), tie("str")).map(([a, b]) => `(${a} == ${b})`),
    fc
      .tuple(tie("list"), fc.constantFrom("all", "exists", "exists_one"), tie("bool"))
      .map(([l, m, b]) => `${l}.${m}(c, ${b})`),
    fc.tuple(tie("list"), fc.nat(5)).map(([l, n]) => `${l}.size() > ${n}`),
    tie("str").map((s) => `firstNumber(${s}) > 0.5`),
    fc.tuple(tie("bool"), tie("bool")).map(([a, b]) => `(${a} && ${b})`),
    fc.tuple(tie("bool"), tie("bool")).map(([a, b]) => `(${a} || !(${b}))`),
  ),
}));

function compileAndEvaluate(source: string, vars: ConditionVariables): void {
  const { ms } = cpuTimeMs(() => {
    try {
      const value = compileCondition(source).evaluate(vars);
      expect(typeof value).toBe("boolean");
    } catch (error) {
      if (!(error instanceof ConditionSyntaxError || error instanceof ConditionEvaluationError)) throw error;
    }
  });
  expect(ms).toBeLessThan(MAX_MS);
}

describe("conditions (CEL) — fuzzed", () => {
  it("arbitrary source text compiles or is a syntax error, and evaluates within the bound", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: FLOW_LIMITS.maxConditionChars + 10 }),
        variables,
        compileAndEvaluate,
      ),
      { numRuns: 300 },
    );
  });

  it("generated expressions with regexes, splits, joins and macros evaluate within the bound", () => {
    fc.assert(
      fc.property(
        grammar.bool.filter((s) => s.length <= FLOW_LIMITS.maxConditionChars),
        variables,
        compileAndEvaluate,
      ),
      { numRuns: 300 },
    );
  });
});
