import type { ChatMessage, StepSettings, TokenUsage } from "@ensemble/core";

/** Who a call is for; adapters pass it to logs and vendor metadata, never to the prompt. */
export interface ProviderCallTrace {
  flowId: string;
  stepId: string;
  /** 0 outside a loop; 1, 2, … per loop iteration. */
  iteration: number;
  /** 0 for the first try, 1 for the first retry, … */
  attempt: number;
}

/** One chat completion, as a step worker asks for it. */
export interface ProviderCallRequest {
  /** The vendor's model name (for `sim`, the behaviour string; see the package README). */
  model: string;
  /** System, user and assistant messages, oldest first. */
  messages: ChatMessage[];
  /** Sampling settings; an adapter drops any its vendor does not support. */
  settings: StepSettings;
  /**
   * Aborted on cancel and on the step timeout: the call must stop promptly and reject with a
   * ProviderError — `timeout` when the abort reason is a `TimeoutError`, else `cancelled`.
   */
  signal: AbortSignal;
  /** Streaming deltas in order; their concatenation equals the result's text. */
  onToken?: (delta: string) => void;
  trace: ProviderCallTrace;
}

export type FinishReason = "stop" | "length" | "content_filter" | "other";

export interface ProviderCallResult {
  text: string;
  finishReason: FinishReason;
  /** As the vendor reports it (cached and reasoning tokens included where it does). */
  usage: TokenUsage;
  /** The model that answered, as the vendor names it (may be a dated release of the one asked for). */
  model: string;
}

/**
 * One vendor (or the offline simulator). `call` rejects only with a ProviderError (adapters
 * run what they catch through toProviderError), so the worker decides retries from `retryable`
 * and `retryAfterMs` without knowing the vendor. An exception thrown by `onToken` is the
 * caller's own and propagates unchanged.
 */
export interface ProviderAdapter {
  /** The provider key flow steps name (`openai`, `anthropic`, `google`, `sim`, …). */
  readonly key: string;
  call(request: ProviderCallRequest): Promise<ProviderCallResult>;
}
