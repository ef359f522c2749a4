import { Environment } from "@marcbachmann/cel-js";
import { FLOW_LIMITS } from "../schema/limits.js";
import { GUARDED_BUILTINS, staticConditionProblems, useGuardedBuiltins } from "./condition-ast.js";
import type { ConditionTimeBudget } from "./condition-time-budget.js";
import { toCelVariables } from "./condition-values.js";
import { re2Matches } from "./re2-matches.js";
import { runWithTimeBudget, threadCpuMsSince } from "./run-with-time-budget.js";

/**
 * Conditions are CEL: side-effect free, non-Turing-complete, parsed once when a
 * flow is validated. Variables: previous, original, draft (strings), steps
 * (`steps.<id>.output`, `.status`, `.decision`), metadata (map), iteration (int); one added
 * function, firstNumber(text). Their cost is bounded: `matches` is RE2 (linear time),
 * comprehensions cannot nest, and every evaluation has a time budget.
 */

export interface ConditionVariables {
  previous: string;
  original: string;
  draft: string;
  /** `decision` is an approval step's decision ("approve" or "reject"); "" for other steps and before it. */
  steps: Record<string, { output: string; status: string; decision?: string }>;
  metadata: Record<string, unknown>;
  iteration: number;
}

export interface CompiledCondition {
  readonly source: string;
  /** With `budget`, the evaluation also counts against the time its plan may spend on conditions. */
  evaluate(variables: ConditionVariables, budget?: ConditionTimeBudget): boolean;
}

export class ConditionSyntaxError extends Error {
  override readonly name = "ConditionSyntaxError";
}

export class ConditionEvaluationError extends Error {
  override readonly name = "ConditionEvaluationError";
}

/** The first decimal number in a text (a score such as "0.85" or "Score: 7/10" → 7), or 0. */
export function firstNumber(text: string): number {
  const match = /-?\d+(?:\.\d+)?/.exec(text);
  return match ? Number.parseFloat(match[0]) : 0;
}

const environment = new Environment({
  limits: { maxAstNodes: 400, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 },
})
  .registerVariable("previous", "string")
  .registerVariable("original", "string")
  .registerVariable("draft", "string")
  .registerVariable("steps", "map")
  .registerVariable("metadata", "map")
  .registerVariable("iteration", "int")
  .registerFunction("firstNumber(string): double", firstNumber)
  .registerFunction(`string.${GUARDED_BUILTINS.matches}(string): bool`, (text: string, pattern: string) =>
    re2Matches(text, pattern),
  )
  .registerFunction(`list<string>.${GUARDED_BUILTINS.join}(): string`, (items: string[]) => boundedJoin(items, ""))
  .registerFunction(`list<string>.${GUARDED_BUILTINS.join}(string): string`, boundedJoin);

/** `join` whose result is at most maxConditionStringChars long: checked before it is built. */
function boundedJoin(items: string[], separator: string): string {
  const length = items.reduce((sum, item) => sum + item.length, 0) + separator.length * Math.max(items.length - 1, 0);
  if (length > FLOW_LIMITS.maxConditionStringChars) {
    throw new ConditionEvaluationError(
      `join() would make ${length} characters; at most ${FLOW_LIMITS.maxConditionStringChars}`,
    );
  }
  return items.join(separator);
}

/** CEL's messages carry a source excerpt over several lines; one line reads better in an API error. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]?.trim() ?? message;
}

export function compileCondition(source: string): CompiledCondition {
  if (source.length > FLOW_LIMITS.maxConditionChars) {
    throw new ConditionSyntaxError(`is longer than ${FLOW_LIMITS.maxConditionChars} characters`);
  }
  let program: (variables: Record<string, unknown>) => unknown;
  try {
    const checked = environment.check(source);
    if (!checked.valid) throw new ConditionSyntaxError(oneLine(checked.error));
    if (checked.type !== "bool" && checked.type !== "dyn") {
      throw new ConditionSyntaxError(`must be true or false, but gives ${checked.type}`);
    }
    const parsed = environment.parse(source);
    const problems = staticConditionProblems(parsed.ast);
    if (problems.length > 0) throw new ConditionSyntaxError(problems[0]);
    useGuardedBuiltins(parsed.ast);
    program = parsed as (variables: Record<string, unknown>) => unknown;
  } catch (error) {
    if (error instanceof ConditionSyntaxError) throw error;
    throw new ConditionSyntaxError(oneLine(error));
  }
  return {
    source,
    evaluate(variables, budget) {
      const allowedMs = budget?.nextEvaluationMs() ?? FLOW_LIMITS.conditionTimeBudgetMs;
      if (allowedMs <= 0) {
        throw new ConditionEvaluationError(
          `condition "${source}" was not evaluated: the flow's conditions already took ${FLOW_LIMITS.conditionPlanBudgetMs} ms, all they may take each time the run moves on`,
        );
      }
      let value: unknown;
      const cpuStart = process.threadCpuUsage();
      try {
        value = runWithTimeBudget(() => program(toCelVariables(variables)), allowedMs);
      } catch (error) {
        throw new ConditionEvaluationError(`condition "${source}" failed: ${oneLine(error)}`);
      } finally {
        budget?.spend(threadCpuMsSince(cpuStart));
      }
      if (typeof value !== "boolean") {
        throw new ConditionEvaluationError(`condition "${source}" gave ${typeof value}, not true or false`);
      }
      return value;
    },
  };
}

/** Step ids a condition names as `steps.<id>` or `steps["<id>"]`, to check them at validation time. */
export function referencedStepIds(source: string): string[] {
  const ids = new Set<string>();
  for (const match of source.matchAll(/\bsteps\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])/g)) {
    const id = match[1] ?? match[2];
    if (id) ids.add(id);
  }
  return [...ids];
}
