import { z, type ZodType } from "zod";
import type { ValidationIssue } from "../errors/validation-error.js";
import { issuesFromZod } from "../errors/zod-issues.js";
import { DEFAULT_APPROVAL_TIMEOUT_MS, type ApprovalStep } from "../schema/flow-definition.js";
import { FLOW_LIMITS } from "../schema/limits.js";
import type { CompiledApproval, CompiledPrompt } from "./compiled-flow.js";

/**
 * Keywords refused in a responseSchema: a regular expression from a definition would run on
 * the approver's data with the backtracking engine (`pattern`), and remote schemas would be
 * fetched (`$ref` outside the document is refused by the converter itself).
 */
const REFUSED_KEYWORDS = new Set(["pattern", "patternProperties"]);

/** An approval step's timeout, timeout decision and response schema, checked. */
export function compileApproval(
  step: ApprovalStep,
  prompt: CompiledPrompt,
  path: string,
  issues: ValidationIssue[],
): CompiledApproval {
  // The prompt is rendered when the step starts waiting, where no thread history is read.
  if (prompt.kind === "template" && prompt.references.history) {
    issues.push({ path: `${path}.prompt`, message: "an approval prompt cannot use {{ history }}" });
  }
  // Condition hooks run in the worker about to call a provider; an approval step never reaches one.
  if (step.condition !== undefined && typeof step.condition !== "string") {
    issues.push({
      path: `${path}.condition`,
      message: "an approval step's condition must be a CEL expression, not a hook",
    });
  }
  return {
    timeoutMs: step.timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    onTimeout: step.onTimeout ?? "reject",
    responseSchema: step.responseSchema ? compileResponseSchema(step.responseSchema, path, issues) : null,
  };
}

function compileResponseSchema(
  schema: Record<string, unknown>,
  path: string,
  issues: ValidationIssue[],
): ZodType | null {
  const at = `${path}.responseSchema`;
  if (JSON.stringify(schema).length > FLOW_LIMITS.maxResponseSchemaChars) {
    issues.push({ path: at, message: `must be at most ${FLOW_LIMITS.maxResponseSchemaChars} characters as JSON` });
    return null;
  }
  const refused = findKeyword(schema, at);
  if (refused) {
    issues.push({ path: refused, message: "regular expressions are not supported in a responseSchema" });
    return null;
  }
  try {
    return z.fromJSONSchema(schema);
  } catch (error) {
    issues.push({ path: at, message: `is not a usable JSON Schema: ${(error as Error).message}` });
    return null;
  }
}

/** Keywords whose members are named by the schema's author (property names), not keywords. */
const NAMED_MEMBERS = new Set(["properties", "$defs", "definitions", "dependentSchemas"]);

/** The path of the first refused keyword in a schema, or null. */
function findKeyword(value: unknown, path: string): string | null {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findKeyword(item, `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  for (const [key, item] of Object.entries(value)) {
    if (REFUSED_KEYWORDS.has(key)) return `${path}.${key}`;
    const members = NAMED_MEMBERS.has(key) && typeof item === "object" && item !== null && !Array.isArray(item);
    const found = members
      ? Object.entries(item).reduce<string | null>(
          (hit, [name, schema]) => hit ?? findKeyword(schema, `${path}.${key}.${name}`),
          null,
        )
      : findKeyword(item, `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

/** Problems of the approver's `data` under the step's responseSchema, each with its path under `data`. */
export function checkApprovalData(approval: CompiledApproval, data: unknown): ValidationIssue[] {
  if (!approval.responseSchema) return [];
  const parsed = approval.responseSchema.safeParse(data);
  return parsed.success ? [] : issuesFromZod(parsed.error, ["data"]);
}
