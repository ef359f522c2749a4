import { FLOW_LIMITS } from "../schema/limits.js";

/**
 * The CPU time conditions may take in one plan, shared by every evaluation in it. One
 * plan can evaluate a loop's `until` once per iteration for each step after the loop:
 * a cap per evaluation alone would let a condition just under it cost a minute.
 */
export class ConditionTimeBudget {
  private spentMs = 0;

  constructor(private readonly limitMs: number = FLOW_LIMITS.conditionPlanBudgetMs) {}

  /** How long the next evaluation may run: its own cap, or what is left of the plan's. */
  nextEvaluationMs(): number {
    return Math.floor(Math.min(FLOW_LIMITS.conditionTimeBudgetMs, this.limitMs - this.spentMs));
  }

  spend(ms: number): void {
    this.spentMs += ms;
  }
}
