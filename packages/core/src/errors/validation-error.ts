/** One problem in a definition or request, named by its path (`steps[2].condition`). */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Bad input from a caller; maps to 400 `validation_error` with `details` = issues. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; "));
  }
}

/** `["steps", 2, "condition"]` → `steps[2].condition`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out;
}
