import type { CompiledStep } from "../validation/compiled-flow.js";
import { retryDelayMs } from "./retry-backoff.js";
import type { StepRecord } from "./step-record.js";

/** Which provider and model one attempt of a step calls. */
export interface StepTarget {
  provider: string;
  model: string;
  /** 0 for the step's own provider, 1 for its first fallback, … */
  index: number;
}

/**
 * Attempts are numbered across targets: the primary gets attempts 0 … n-1 (n = 1 + retries),
 * the first fallback n … 2n-1, and so on. Deriving the target from the attempt number keeps
 * it out of storage and makes every worker agree on it.
 */
export function targetForAttempt(step: CompiledStep, attempt: number): StepTarget {
  const index = Math.min(Math.floor(attempt / step.attemptsPerTarget), step.targets.length - 1);
  // An approval step has no target: no provider is ever called for it.
  const target = step.targets[index] ?? { provider: "", model: "" };
  return { ...target, index };
}

/**
 * Failures that say a target cannot be used rather than that it failed, known only at run
 * time: the data-sharing policy refuses it (an upstream step was answered by its own
 * fallback, say), or the worker's model allowlist (WORKER_MODELS) excludes its model. The
 * step moves on to its next fallback, if any.
 */
const PASSED_OVER_CODES = new Set(["policy_violation", "model_not_allowed"]);

export interface NextAttempt {
  attempt: number;
  delayMs: number;
}

/**
 * After a failed attempt: retry the same target while it has attempts left and the error is
 * retryable (backoff, or the vendor's Retry-After when longer); when they are spent on
 * retryable errors, move to the next fallback at once. A target refused before any call
 * (PASSED_OVER_CODES) is passed over. Otherwise null: the step has failed for good.
 */
export function nextAttempt(step: CompiledStep, failed: StepRecord): NextAttempt | null {
  const perTarget = step.attemptsPerTarget;
  const target = targetForAttempt(step, failed.attempt).index;
  const retryable = failed.error?.retryable !== false;
  if (retryable && failed.attempt + 1 < (target + 1) * perTarget) {
    const attempt = failed.attempt + 1;
    return { attempt, delayMs: retryDelayMs(attempt - target * perTarget, failed.error?.retryAfterMs) };
  }
  const passOver = retryable || PASSED_OVER_CODES.has(failed.error?.code ?? "");
  if (passOver && target + 1 < step.targets.length) return { attempt: (target + 1) * perTarget, delayMs: 0 };
  return null;
}
