import type { FlowStreamUpdate } from "@ensemble/sdk";
import { createParser } from "eventsource-parser";
import { session } from "./session.js";

export interface EventStreamHandlers {
  onEvent: (event: FlowStreamUpdate) => void;
  /** Whether the run has ended (its terminal event applied): then the stream's end is final. */
  runEnded: () => boolean;
  /** The stream ended because the flow ended and every event was delivered. */
  onEnd: () => void;
  onError: (message: string) => void;
}

const RETRY_MS = 1_000;

/**
 * Follows GET /v1/flows/:flowId/events. EventSource cannot send an Authorization header,
 * so this reads the SSE body with fetch; after a dropped connection it resumes after the
 * last event it has (Last-Event-ID), as EventSource would. Returns a function that stops it.
 */
export function followEvents(flowId: string, handlers: EventStreamHandlers, afterId = 0): () => void {
  const controller = new AbortController();
  let lastId = afterId;
  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(`/v1/flows/${encodeURIComponent(flowId)}/events`, {
          headers: {
            authorization: `Bearer ${session.apiKey() ?? ""}`,
            accept: "text/event-stream",
            ...(lastId > 0 ? { "last-event-id": String(lastId) } : {}),
          },
          signal: controller.signal,
        });
        if (res.status === 204) return handlers.onEnd();
        if (!res.ok || !res.body) {
          const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
          return handlers.onError(body.error?.message ?? `events: HTTP ${res.status}`);
        }
        const parser = createParser({
          onEvent: (message) => {
            const event = JSON.parse(message.data) as FlowStreamUpdate;
            lastId = event.id;
            handlers.onEvent(event);
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        // The server ends the stream once the flow has ended and the client has every event;
        // otherwise (a restarting API, a dropped slow client) it is resumed.
        if (handlers.runEnded()) return handlers.onEnd();
        await new Promise((r) => setTimeout(r, RETRY_MS));
      } catch (err) {
        if (controller.signal.aborted) return;
        handlers.onError(`events: ${(err as Error).message}; reconnecting`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  };
  void run();
  return () => controller.abort();
}
