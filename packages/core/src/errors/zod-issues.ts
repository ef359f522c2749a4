import type { z } from "zod";
import { formatIssuePath, type ValidationIssue } from "./validation-error.js";

/**
 * zod's issues as ValidationIssues; a path prefix places them inside a request body.
 * An unknown key gets its own path (`steps[0].bogus`), not its parent's: zod names it only in the message.
 */
export function issuesFromZod(error: z.ZodError, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({
          path: formatIssuePath([...prefix, ...issue.path, key]),
          message: "is not a known field",
        }))
      : [{ path: formatIssuePath([...prefix, ...issue.path]), message: issue.message }],
  );
}
