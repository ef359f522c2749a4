import {
  buildStepContext,
  buildStepMessages,
  computeCost,
  createRunState,
  FLOW_LIMITS,
  PromptTooLargeError,
  requestViolation,
  shareableHistory,
  strictestRules,
  targetForAttempt,
  type CompiledFlow,
  type ConversationMessage,
  type StepMessages,
} from "@ensemble/core";
import { listMessages, renewStepLease, type FlowRow, type PolicyRow, type StepResultRow } from "@ensemble/db";
import { ProviderError } from "@ensemble/providers";
import type { RateLimitSlot } from "@ensemble/queue";
import type { EngineDeps } from "../engine-deps.js";
import { sortRows, toFlowStepResult, toStepRecord } from "../run/records.js";
import { FlowAbortedError, type InFlightCalls } from "./in-flight-calls.js";
import { OutputLimitReached, outputBudget, outputTooLarge, promptTooLarge } from "./output-limits.js";
import { ProgressCoalescer } from "./progress-coalescer.js";
import type { StepOutcome } from "./step-outcome.js";

export interface StepCallContext {
  flow: FlowRow;
  compiled: CompiledFlow;
  rows: StepResultRow[];
  /** The data-sharing policies of the thread's owner and of the run's executor. */
  policies: PolicyRow[];
  claimed: StepResultRow;
  checkHookCondition: boolean;
}

/**
 * Runs one claimed attempt: hooks, the request under the context and data-sharing
 * policies, the provider call (timeout, cluster-wide cancel, lease heartbeat),
 * token progress. Never throws for a step failure: it returns the outcome to commit.
 */
export async function callStepProvider(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  ctx: StepCallContext,
): Promise<StepOutcome> {
  const { flow, compiled, claimed } = ctx;
  const step = compiled.byId.get(claimed.stepId);
  if (!step) return failure(claimed, "unknown_step", `step ${claimed.stepId} is not in the flow's definition`);
  const state = createRunState(compiled, ctx.rows.map(toStepRecord), {
    originalPrompt: flow.input ?? "",
    metadata: flow.metadata,
  });
  // A fallback's provider and model once the primary's retries are spent.
  const { provider, model } = targetForAttempt(step, claimed.attempt);

  // Both users' policies apply: the owner's, whose history and flows these are, and the executor's.
  const rules = strictestRules(ctx.policies);
  const needsHistory = compiled.policy.shareConversationHistory;
  // Only what this provider may see, for the request and for hooks alike.
  const history = needsHistory ? shareableHistory(await loadHistory(deps, flow.threadId), provider, rules) : [];
  const rule = rules.find((r) => r.providerKey === provider);
  const hookContext = () =>
    buildStepContext(state, step.id, claimed.iteration, {
      flowId: flow.id,
      threadHistory: history,
      allStepResults: sortRows(ctx.rows).map(toFlowStepResult),
    });

  if (ctx.checkHookCondition && step.condition?.kind === "hook") {
    const hook = deps.hooks.getCondition(step.condition.name);
    if (!hook)
      return failure(
        claimed,
        "hook_not_registered",
        `no condition hook "${step.condition.name}" is registered in this worker`,
      );
    if (!(await hook(hookContext())))
      return { status: "skipped", reason: `condition hook ${step.condition.name} returned false` };
  }
  let hookPrompt: string | undefined;
  if (step.prompt.kind === "hook") {
    const hook = deps.hooks.getPrompt(step.prompt.name);
    if (!hook)
      return failure(
        claimed,
        "hook_not_registered",
        `no prompt hook "${step.prompt.name}" is registered in this worker`,
      );
    hookPrompt = await hook(hookContext());
  }

  let request: StepMessages | null = null;
  try {
    request = buildStepMessages(state, step.id, claimed.iteration, {
      history,
      historyAllowed: rule?.allowConversationHistory ?? true,
      ...(hookPrompt !== undefined ? { hookPrompt } : {}),
    });
  } catch (error) {
    if (!(error instanceof PromptTooLargeError)) throw error;
  }
  if (!request) return { status: "failed", provider, model, error: promptTooLarge(step.id) };
  const requestChars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
  if (requestChars > FLOW_LIMITS.maxRenderedPromptChars)
    return { status: "failed", provider, model, error: promptTooLarge(step.id, requestChars) };
  const budget = outputBudget(ctx.rows, claimed.id);
  if (budget.chars <= 0) return { status: "failed", provider, model, error: outputTooLarge(step.id, budget) };
  const violation = requestViolation(request, step, provider, rules);
  if (violation)
    return {
      status: "failed",
      provider,
      model,
      error: { code: "policy_violation", message: violation.message, retryable: false },
    };

  let adapter;
  try {
    adapter = deps.providers.get(provider);
  } catch (error) {
    return {
      status: "failed",
      provider,
      model,
      error: {
        code: "unknown_provider",
        message: error instanceof Error ? error.message : String(error),
        retryable: false,
      },
    };
  }

  // Admission right before the call, so what the limiter counts is what the vendor sees.
  let slot: RateLimitSlot | null = null;
  if (deps.rateLimiter?.covers(provider, model)) {
    const holder = `${flow.id}:${flow.run}:${step.id}:${claimed.iteration}:${claimed.attempt}`;
    const admission = await deps.rateLimiter.admit(provider, model, holder);
    if (!admission.admitted) return { status: "deferred", retryInMs: admission.retryInMs, limit: admission.limit };
    slot = admission.slot;
  }
  let tokensUsed = 0;
  let streamedChars = 0;
  void deps.bus
    .publish(flow.id, "step_start", {
      stepId: step.id,
      data: { iteration: claimed.iteration, attempt: claimed.attempt, provider, model, action: claimed.action },
    })
    .catch((err: unknown) => deps.logger.warn({ err, flowId: flow.id }, "step_start event not published"));

  const timeoutMs = step.definition.timeout ?? flow.stepTimeoutMs ?? deps.settings.defaultStepTimeoutMs;
  const controller = new AbortController();
  const untrack = inFlight.track(flow.id, controller);
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]);
  const progress = new ProgressCoalescer(deps.settings.progressIntervalMs, (delta) => {
    void deps.bus
      .publish(flow.id, "step_progress", {
        stepId: step.id,
        data: { iteration: claimed.iteration, attempt: claimed.attempt, delta },
      })
      .catch((err: unknown) => deps.logger.warn({ err, flowId: flow.id }, "progress event not published"));
  });
  const heartbeat = setInterval(
    () => {
      slot
        ?.renew()
        .catch((err: unknown) => deps.logger.warn({ err, stepId: step.id }, "rate-limit slot renewal failed"));
      renewStepLease(deps.leaseDb, claimed.id, claimed.leaseToken, deps.settings.stepLeaseMs)
        .then((held) => {
          if (!held) controller.abort(new FlowAbortedError("lease_lost"));
        })
        .catch((err: unknown) => deps.logger.warn({ err, stepId: step.id }, "lease renewal failed; will retry"));
    },
    Math.max(250, Math.floor(deps.settings.stepLeaseMs / 3)),
  );

  try {
    const result = await adapter.call({
      model,
      messages: request.messages,
      settings: step.definition.settings ?? {},
      signal,
      onToken: (delta) => {
        // Stop the call as soon as the output passes its budget: neither the vendor's time nor this process's memory is spent on the rest.
        streamedChars += delta.length;
        if (streamedChars > budget.chars) controller.abort(new OutputLimitReached(budget));
        else progress.push(delta);
      },
      trace: { flowId: flow.id, stepId: step.id, iteration: claimed.iteration, attempt: claimed.attempt },
    });
    progress.flush();
    tokensUsed = result.usage.totalTokens;
    const priced = computeCost(result.usage, provider, result.model || model, deps.prices);
    if (priced.warning) deps.logger.warn({ provider, model }, priced.warning);
    if (result.text.length > budget.chars)
      return {
        status: "failed",
        provider,
        model,
        usage: result.usage,
        cost: priced.cost,
        error: outputTooLarge(step.id, budget),
      };
    return {
      status: "success",
      output: result.text,
      usage: result.usage,
      cost: priced.cost,
      provider,
      model: result.model || model,
    };
  } catch (error) {
    progress.flush();
    if (controller.signal.reason instanceof OutputLimitReached)
      return { status: "failed", provider, model, error: outputTooLarge(step.id, budget) };
    if (controller.signal.aborted) {
      const reason =
        controller.signal.reason instanceof FlowAbortedError ? controller.signal.reason.reason : "cancelled";
      return { status: "aborted", reason };
    }
    if (error instanceof ProviderError) {
      return {
        status: "failed",
        provider,
        model,
        error: {
          code: error.code,
          message: error.message,
          retryable: error.retryable,
          ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        },
      };
    }
    deps.logger.error({ err: error, flowId: flow.id, stepId: step.id }, "provider adapter threw a non-provider error");
    return {
      status: "failed",
      provider,
      model,
      error: {
        code: "internal_error",
        message: "the provider call failed unexpectedly; see the worker log",
        retryable: true,
      },
    };
  } finally {
    clearInterval(heartbeat);
    untrack();
    await slot
      ?.release(tokensUsed)
      .catch((err: unknown) =>
        deps.logger.warn({ err, flowId: flow.id }, "rate-limit slot not released; it expires with the lease"),
      );
  }
}

function failure(row: StepResultRow, code: string, message: string, retryable = false): StepOutcome {
  return { status: "failed", provider: row.provider, model: row.model, error: { code, message, retryable } };
}

async function loadHistory(deps: EngineDeps, threadId: string): Promise<ConversationMessage[]> {
  const rows = await listMessages(deps.db, threadId);
  return rows.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.provider ? { provider: m.provider } : {}),
  }));
}
