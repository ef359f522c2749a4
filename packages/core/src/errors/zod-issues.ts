import type { z } from "zod";
import { formatIssuePath, type ValidationIssue } from "./validation-error.js";

/** zod's issues as ValidationIssues; a path prefix places them inside a request body. */
export function issuesFromZod(error: z.ZodError, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: formatIssuePath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}
