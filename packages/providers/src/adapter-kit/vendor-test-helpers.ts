import { inspect } from "node:util";
import type { ChatMessage } from "@ensemble/core";
import type {
  ProviderBatchApi,
  ProviderBatchItem,
  ProviderBatchRequest,
  ProviderCallRequest,
} from "../provider-adapter.js";

/** A conversation with a system prompt, history and a last user message. */
export const CONVERSATION: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "What is 2+2?" },
  { role: "assistant", content: "4" },
  { role: "user", content: "And 3+3?" },
];

/** A call request with test defaults; only what a test cares about needs saying. */
export function vendorRequest(model: string, overrides: Partial<ProviderCallRequest> = {}): ProviderCallRequest {
  return {
    model,
    messages: CONVERSATION,
    settings: {},
    signal: new AbortController().signal,
    trace: { flowId: "flow-1", stepId: "step-1", iteration: 0, attempt: 0 },
    ...overrides,
  };
}

/** The rejection of a promise (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to reject, but it resolved");
}

/**
 * Everything a log line or an API response could show of an error: message, stack, JSON, the
 * inspected object (enumerable fields, cause chain with their stacks and fields).
 */
export function everythingShownOf(err: unknown): string {
  const parts: string[] = [inspect(err, { depth: 8, showHidden: false }), JSON.stringify(err) ?? ""];
  let current: unknown = err;
  for (let i = 0; i < 8 && typeof current === "object" && current !== null; i++) {
    const e = current as { message?: unknown; stack?: unknown; cause?: unknown };
    parts.push(String(e.message), String(e.stack), JSON.stringify(Object.entries(current)) ?? "");
    current = e.cause;
  }
  return parts.join("\n");
}

/** A batch request with test defaults (the conversation above). */
export function batchRequest(customId: string, model: string, content?: string): ProviderBatchRequest {
  const messages = content === undefined ? CONVERSATION : [{ role: "user" as const, content }];
  return {
    customId,
    model,
    messages,
    settings: {},
    trace: { flowId: "flow-1", stepId: customId, iteration: 0, attempt: 0 },
  };
}

/** Polls a batch until it has ended (the fake's completion delay is short), and returns its items. */
export async function batchItems(api: ProviderBatchApi, batchId: string): Promise<ProviderBatchItem[]> {
  const signal = new AbortController().signal;
  for (let i = 0; i < 200; i++) {
    const state = await api.poll(batchId, signal);
    if (state.state === "ended") return state.items;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`batch ${batchId} never ended`);
}
