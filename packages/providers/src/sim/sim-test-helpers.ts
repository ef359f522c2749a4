import type { ChatMessage } from "@ensemble/core";
import type { ProviderCallRequest } from "../provider-adapter.js";

/** A sim call request with test defaults; only what a test cares about needs saying. */
export function simRequest(model: string, overrides: Partial<ProviderCallRequest> = {}): ProviderCallRequest {
  const messages: ChatMessage[] = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "first question" },
    { role: "assistant", content: "first answer" },
    { role: "user", content: "hello world" },
  ];
  return {
    model,
    messages,
    settings: {},
    signal: new AbortController().signal,
    trace: { flowId: "flow-1", stepId: "step-1", iteration: 0, attempt: 0 },
    ...overrides,
  };
}

/**
 * Watches setTimeout/clearTimeout from now on: `pending()` counts the timers created since
 * that have neither fired nor been cleared, so a test can prove a call left none behind
 * (a process-wide count would also see the test runner's own timers come and go).
 */
export function trackTimers(): { pending(): number; restore(): void } {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const tracked = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): unknown => {
    const handle = realSet(() => {
      live.delete(handle);
      callback(...args);
    }, ms);
    live.add(handle);
    return handle;
  };
  globalThis.setTimeout = tracked as unknown as typeof setTimeout;
  globalThis.clearTimeout = (handle: Parameters<typeof clearTimeout>[0]): void => {
    live.delete(handle);
    realClear(handle);
  };
  return {
    pending: () => live.size,
    restore: () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}
