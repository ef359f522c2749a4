import type { ValidationIssue } from "@ensemble/core";

/**
 * A job payload does not match its catalog schema. A producer throws it before anything
 * reaches Redis (a programming error, not bad user input); a worker turns it into an
 * unrecoverable failure, since retrying the same data cannot help.
 */
export class InvalidJobPayloadError extends Error {
  override readonly name = "InvalidJobPayloadError";
  readonly jobName: string;
  /** One entry per offending field, named by its path (`run`, `reason`). */
  readonly issues: readonly ValidationIssue[];

  constructor(jobName: string, issues: readonly ValidationIssue[]) {
    const detail = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");
    super(`invalid ${jobName} payload: ${detail}`);
    this.jobName = jobName;
    this.issues = issues;
  }
}
