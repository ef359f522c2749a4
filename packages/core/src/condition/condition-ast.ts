import type { ASTNode } from "@marcbachmann/cel-js";
import { re2PatternError } from "./re2-matches.js";

/**
 * What can be refused before a condition runs, by walking its parsed form: a
 * comprehension inside another one's predicate (the work multiplies: a 20 000-character
 * text split and compared with itself is 400 million steps), `cel.bind` (each binding
 * can double a string), and a `matches` pattern written in the condition that RE2 does
 * not accept. Chaining (`x.map(…).exists(…)`) only adds work and is allowed.
 */

/** The macros that loop over a list or a map. */
const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

/** Built-in methods replaced by bounded ones, and the names those are registered under; see `useGuardedBuiltins`. */
export const GUARDED_BUILTINS = { matches: "guardedMatches", join: "guardedJoin" } as const;

function children(node: ASTNode): ASTNode[] {
  const found: ASTNode[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === "object" && value !== null && "op" in value) found.push(value as ASTNode);
  };
  collect(node.args);
  return found;
}

/** The reasons a parsed condition is refused; empty when it is fine. */
export function staticConditionProblems(root: ASTNode): string[] {
  const problems: string[] = [];
  const visit = (node: ASTNode, insideComprehension: boolean): void => {
    if (node.op !== "rcall") {
      if (node.op === "call" && COMPREHENSIONS.has(node.args[0]))
        problems.push(`${node.args[0]}() must be called on a list or map`);
      for (const child of children(node)) visit(child, insideComprehension);
      return;
    }
    const [name, receiver, args] = node.args;
    if (name === "bind") problems.push("cel.bind() is not available in conditions");
    const comprehension = COMPREHENSIONS.has(name);
    if (comprehension && insideComprehension)
      problems.push(
        `${name}() inside another all/exists/exists_one/map/filter is not allowed (the work would multiply)`,
      );
    const pattern = name === "matches" ? args[0] : undefined;
    if (pattern?.op === "value" && typeof pattern.args === "string") {
      const error = re2PatternError(pattern.args);
      if (error) problems.push(`matches(): not an RE2 regular expression (${error})`);
    }
    visit(receiver, insideComprehension);
    for (const arg of args) visit(arg, insideComprehension || comprehension);
  };
  visit(root, false);
  return problems;
}

/**
 * cel-js's built-in `matches` uses JavaScript's backtracking RegExp, and its `join` can
 * build a string of any size in one uninterruptible call; the library cannot replace a
 * built-in function. Before the first evaluation type-checks the program, each such
 * method call is pointed at our bounded function instead.
 */
export function useGuardedBuiltins(root: ASTNode): void {
  const visit = (node: ASTNode): void => {
    if (node.op === "rcall" && Object.hasOwn(GUARDED_BUILTINS, node.args[0])) {
      (node.args as unknown as unknown[])[0] = GUARDED_BUILTINS[node.args[0] as keyof typeof GUARDED_BUILTINS];
    }
    children(node).forEach(visit);
  };
  visit(root);
}
