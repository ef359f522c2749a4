import { CronExpressionParser } from "cron-parser";
import { z } from "zod";

/**
 * A cron pattern of 5 fields, or 6 with seconds first, as the job schedulers read it. The
 * contract's CreateScheduleBody only bounds its length: cron-parser (and its date library)
 * stays out of the SDK, which bundles the contract.
 */
export const CronPattern = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

function cronProblem(value: string): string | null {
  const fields = value.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) return "must have 5 fields (minute hour day month weekday) or 6 (seconds first)";
  try {
    CronExpressionParser.parse(value);
    return null;
  } catch (error) {
    return `is not a valid cron pattern: ${(error as Error).message}`;
  }
}
