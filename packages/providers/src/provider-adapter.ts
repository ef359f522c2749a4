import type { ChatMessage, StepSettings, TokenUsage } from "@ensemble/core";
import type { ProviderError } from "./errors/provider-error.js";

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
  /** The vendor's batch API (half price, answered within 24 hours); absent when it has none. */
  readonly batch?: ProviderBatchApi;
}

/** One call of a batch: what `call` takes, without the stream and signal, named by the caller. */
export interface ProviderBatchRequest {
  /** Unique within the batch: letters, digits, `_` and `-`, at most 64 (Anthropic's rule, the stricter). */
  customId: string;
  model: string;
  messages: ChatMessage[];
  settings: StepSettings;
  trace: ProviderCallTrace;
}

/** What became of one request of an ended batch. */
export type ProviderBatchItem =
  | { customId: string; outcome: "succeeded"; result: ProviderCallResult }
  /** The vendor ran it and answered with an error, classified as a synchronous call's would be. */
  | { customId: string; outcome: "errored"; error: ProviderError }
  /** The vendor never ran it: the batch expired, was cancelled or failed as a whole. */
  | { customId: string; outcome: "not_run"; reason: "expired" | "cancelled" | "failed" };

export type ProviderBatchState =
  | { state: "in_progress" }
  /**
   * Every request the vendor reported on; one it did not (a batch that failed validation
   * reports none) was not run.
   */
  | { state: "ended"; items: ProviderBatchItem[] };

/**
 * A vendor's batch API. Each method rejects only with a ProviderError, as `call` does, and
 * stops when the signal aborts.
 */
export interface ProviderBatchApi {
  /** Submits the requests as one batch; resolves with the vendor's batch id. */
  submit(requests: readonly ProviderBatchRequest[], signal: AbortSignal): Promise<string>;
  /** Where the batch stands; once it has ended, what became of each request. */
  poll(batchId: string, signal: AbortSignal): Promise<ProviderBatchState>;
  /** Asks the vendor to cancel it; requests it has not run yet end `not_run` (`cancelled`). */
  cancel(batchId: string, signal: AbortSignal): Promise<void>;
}
