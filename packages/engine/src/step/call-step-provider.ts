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
  type CompiledStep,
  type ConversationMessage,
  type StepMessages,
} from "@ensemble/core";
import { listMessages, type FlowRow, type PolicyRow, type StepResultRow } from "@ensemble/db";
import { ProviderError, type ProviderAdapter } from "@ensemble/providers";
import type { RateLimitSlot } from "@ensemble/queue";
import { withProviderCallSpan } from "@ensemble/telemetry";
import { leaseRenewalIntervalMs, type EngineDeps } from "../engine-deps.js";
import { sortRows, toFlowStepResult, toStepRecord } from "../run/records.js";
import { FlowAbortedError, type InFlightCalls } from "./in-flight-calls.js";
import {
  OutputLimitReached,
  outputBudget,
  outputTooLarge,
  promptTooLarge,
  type OutputBudget,
} from "./output-limits.js";
import { ProgressCoalescer } from "./progress-coalescer.js";
import { recordCutOffProviderCall } from "./record-cut-off-call.js";
import type { StepOutcome } from "./step-outcome.js";
import type { BatchRequestOutcome } from "../batch/park-step.js";

export interface StepCallContext {
  flow: FlowRow;
  compiled: CompiledFlow;
  rows: StepResultRow[];
  /** The data-sharing policies of the thread's owner and of the run's executor. */
  policies: PolicyRow[];
  claimed: StepResultRow;
  checkHookCondition: boolean;
  /** Whether this worker may call `model` of `provider` (its WORKER_MODELS allowlist). Default: any model. */
  allowsModel?: (provider: string, model: string) => boolean;
}

/**
 * Runs one claimed attempt: its request (prepareRequest), admission under a provider's
 * rate limit, the provider call (callProvider). Never throws for a step failure: it
 * returns the outcome to commit.
 */
export async function callStepProvider(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  ctx: StepCallContext,
): Promise<StepOutcome | BatchRequestOutcome> {
  const prepared = await prepareRequest(deps, ctx);
  if ("status" in prepared) return prepared;
  const { flow, claimed } = ctx;
  const { step, provider, model } = prepared;
  // A batch step's first attempt goes in a batch; one that fell back (or was taken from a
  // batch that had begun applying it) is called now, as are retries and fallbacks.
  if (step.batch && claimed.attempt === 0 && claimed.batchFallback === null && claimed.batchId === null) {
    const settings = (step.definition.kind === "approval" ? undefined : step.definition.settings) ?? {};
    return {
      status: "batch",
      provider,
      model,
      request: { model, messages: prepared.request.messages, settings },
      deadlineMs: step.batch.deadlineMs,
      timeoutMs: step.definition.timeout ?? flow.stepTimeoutMs ?? deps.settings.defaultStepTimeoutMs,
    };
  }
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
  return callProvider(deps, inFlight, ctx, prepared, adapter, slot);
}

/** A request ready to send: the step, its provider and model for this attempt, the messages and the output budget. */
interface PreparedRequest {
  step: CompiledStep;
  provider: string;
  model: string;
  /** 0 for the step's own provider and model, 1 for its first fallback, … */
  fallbackIndex: number;
  request: StepMessages;
  budget: OutputBudget;
}

/**
 * The attempt's request under the context and data-sharing policies, after its hooks; or
 * the outcome that ends the attempt before any call (skipped by a hook, prompt or output
 * over its limit, policy violation).
 */
async function prepareRequest(deps: EngineDeps, ctx: StepCallContext): Promise<PreparedRequest | StepOutcome> {
  const { flow, compiled, claimed } = ctx;
  const step = compiled.byId.get(claimed.stepId);
  if (!step) return failure(claimed, "unknown_step", `step ${claimed.stepId} is not in the flow's definition`);
  const state = createRunState(compiled, ctx.rows.map(toStepRecord), {
    originalPrompt: flow.input ?? "",
    metadata: flow.metadata,
  });
  // A fallback's provider and model once the primary's retries are spent.
  const { provider, model, index: fallbackIndex } = targetForAttempt(step, claimed.attempt);
  // Before anything is read or sent: a model outside this worker's allowlist is never called.
  if (ctx.allowsModel && !ctx.allowsModel(provider, model))
    return {
      status: "failed",
      provider,
      model,
      error: {
        code: "model_not_allowed",
        message: `model "${model}" is not in this worker's allowlist for provider "${provider}" (WORKER_MODELS)`,
        retryable: false,
      },
    };

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
  return { step, provider, model, fallbackIndex, request, budget };
}

/**
 * The provider call itself: cancellable by the flow, the timeout and a lost lease (the
 * worker's LeaseKeeper), its tokens published as progress, its answer priced.
 */
async function callProvider(
  deps: EngineDeps,
  inFlight: InFlightCalls,
  ctx: StepCallContext,
  prepared: PreparedRequest,
  adapter: ProviderAdapter,
  slot: RateLimitSlot | null,
): Promise<StepOutcome> {
  const { flow, claimed } = ctx;
  const { step, provider, model, fallbackIndex, request, budget } = prepared;
  let tokensUsed = 0;
  let streamedChars = 0;
  // What was streamed, joined only if a lost lease cuts the call off (its output is then estimated from it).
  const streamed: string[] = [];
  const calledAt = performance.now();
  void deps.bus
    .publish(flow.id, "step_start", {
      stepId: step.id,
      data: { iteration: claimed.iteration, attempt: claimed.attempt, provider, model, action: claimed.action },
      numbered: true,
    })
    .catch((err: unknown) => deps.logger.warn({ err, flowId: flow.id }, "step_start event not published"));

  const timeoutMs = step.definition.timeout ?? flow.stepTimeoutMs ?? deps.settings.defaultStepTimeoutMs;
  const controller = new AbortController();
  const untrack = inFlight.track(flow.id, controller, { id: claimed.id, leaseToken: claimed.leaseToken }, provider);
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]);
  const progress = new ProgressCoalescer(deps.settings.progressIntervalMs, (delta) => {
    void deps.bus
      .publish(flow.id, "step_progress", {
        stepId: step.id,
        data: { iteration: claimed.iteration, attempt: claimed.attempt, delta },
        numbered: true,
      })
      .catch((err: unknown) => deps.logger.warn({ err, flowId: flow.id }, "progress event not published"));
  });
  // A rate-limit slot is held like the lease, for as long as the call runs.
  const slotHeartbeat = slot
    ? setInterval(
        () =>
          void slot
            .renew()
            .catch((err: unknown) => deps.logger.warn({ err, stepId: step.id }, "rate-limit slot renewal failed")),
        leaseRenewalIntervalMs(deps.settings),
      )
    : undefined;

  try {
    // Approval steps never get here (they wait with no job; a claim needs pending or running).
    const settings = (step.definition.kind === "approval" ? undefined : step.definition.settings) ?? {};
    const messages = request.messages;
    const call = () =>
      adapter.call({
        model,
        messages,
        settings,
        signal,
        onToken: (delta) => {
          // Stop the call as soon as the output passes its budget: neither the vendor's time nor this process's memory is spent on the rest.
          streamedChars += delta.length;
          streamed.push(delta);
          if (streamedChars > budget.chars) controller.abort(new OutputLimitReached(budget));
          else progress.push(delta);
        },
        trace: { flowId: flow.id, stepId: step.id, iteration: claimed.iteration, attempt: claimed.attempt },
      });
    const result = await withProviderCallSpan(
      { provider, model, settings, messages, attempt: claimed.attempt, fallbackIndex },
      call,
      // Priced here too only when traces are on (the end callback runs only then).
      (done) => ({
        ...done,
        costUsd: computeCost(done.usage, provider, done.model || model, deps.prices).cost ?? undefined,
      }),
    );
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
    const outcome = outcomeOfFailedCall(deps, ctx, prepared, controller.signal, error);
    if (outcome.status === "aborted" && outcome.reason === "lease_lost")
      await recordCutOffProviderCall(deps, {
        flow,
        claimed,
        stepId: step.id,
        provider,
        model,
        messages: request.messages,
        streamed: streamed.join(""),
        callMs: Math.round(performance.now() - calledAt),
      });
    return outcome;
  } finally {
    clearInterval(slotHeartbeat);
    untrack();
    await slot
      ?.release(tokensUsed)
      .catch((err: unknown) =>
        deps.logger.warn({ err, flowId: flow.id }, "rate-limit slot not released; it expires with the lease"),
      );
  }
}

/** What a call that threw ends as: over its output budget, aborted (cancel, timeout of the flow, lost lease), or a provider error. */
function outcomeOfFailedCall(
  deps: EngineDeps,
  ctx: StepCallContext,
  prepared: PreparedRequest,
  /** The call's own controller's signal: aborted by cancel, a lost lease or the output budget (a timeout is a ProviderError). */
  signal: AbortSignal,
  error: unknown,
): StepOutcome {
  const { flow } = ctx;
  const { step, provider, model, budget } = prepared;
  if (signal.reason instanceof OutputLimitReached)
    return { status: "failed", provider, model, error: outputTooLarge(step.id, budget) };
  if (signal.aborted) {
    const reason = signal.reason instanceof FlowAbortedError ? signal.reason.reason : "cancelled";
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
