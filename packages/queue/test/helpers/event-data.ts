import type { FlowEventData, FlowEventType } from "@ensemble/core";

/** A valid `data` for each event type, for tests about the bus rather than about what events say. */
export const EVENT_DATA: { [T in FlowEventType]: FlowEventData<T> } = {
  flow_start: { run: 1, name: "demo", type: "sequential", totalSteps: 2 },
  step_start: { iteration: 0, attempt: 0, provider: "sim", model: "sim-1", action: "generate" },
  step_progress: { iteration: 0, attempt: 0, delta: "a" },
  step_retry: { iteration: 0, attempt: 1, delayMs: 0, error: null },
  step_complete: {
    iteration: 0,
    attempt: 0,
    output: "ok",
    provider: "sim",
    model: "sim-1",
    usage: null,
    cost: null,
  },
  step_skipped: { iteration: 0, reason: "condition false" },
  step_waiting: { iteration: 0, prompt: "approve?", expiresAt: "2026-01-01T00:00:00.000Z" },
  step_batched: {
    iteration: 0,
    attempt: 0,
    provider: "openai",
    model: "gpt-4o-mini",
    deadline: "2026-01-01T00:00:00.000Z",
  },
  error: { iteration: 0, error: { code: "provider_error", message: "down" } },
  flow_complete: { status: "completed", finalOutput: "ok", totalCost: 0, totalTokens: 0 },
  flow_failed: { status: "failed", error: null },
  flow_cancelled: { status: "cancelled", cancelledSteps: [] },
};

/** A progress event's data carrying `delta`. */
export const progress = (delta: string): FlowEventData<"step_progress"> => ({ ...EVENT_DATA.step_progress, delta });
