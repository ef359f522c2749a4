import { apiContract, fillPath, type FlowStreamUpdate } from "@ensemble/core";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { EnsembleApiError } from "./errors/ensemble-api-error.js";
import type { HttpClient } from "./http-client.js";
import type { StreamEventsOptions } from "./types.js";

/** Statuses worth reconnecting after; other errors (401, 404, 400) will not change by retrying. */
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * A flow's events from `GET /v1/flows/:flowId/events`: each once, in id order. A dropped
 * connection is resumed with Last-Event-ID (backing off, up to `maxReconnects` tries in
 * a row); the iteration ends when the server ends the stream (the flow is over and
 * everything was sent) — unless the server sent a `retry:` hint first (it is going away,
 * e.g. restarting): then the stream is resumed after that many ms. Breaking out of the
 * loop closes the connection.
 */
export async function* streamFlowEvents(
  http: HttpClient,
  flowId: string,
  options: StreamEventsOptions = {},
): AsyncGenerator<FlowStreamUpdate, void, undefined> {
  const maxReconnects = options.maxReconnects ?? 5;
  let lastId = options.lastEventId ?? 0;
  let failures = 0;
  let retryMs = 500;
  for (;;) {
    let reader: ReadableStreamDefaultReader<string> | undefined;
    try {
      const res = await http.stream(
        fillPath(apiContract.streamFlowEvents.path, { flowId }),
        { "last-event-id": String(lastId) },
        options.signal,
      );
      if (res.status === 204 || !res.body) return; // over, and nothing after lastId
      reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let comeBack = false;
      const received: EventSourceMessage[] = [];
      const parser = createParser({
        onEvent: (message) => received.push(message),
        onRetry: (ms) => {
          retryMs = ms;
          comeBack = true;
        },
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
        for (const message of received.splice(0)) {
          const event = JSON.parse(message.data) as FlowStreamUpdate;
          if (event.id <= lastId) continue;
          lastId = event.id;
          failures = 0;
          yield event;
        }
      }
      if (!comeBack) return; // a clean end: the flow is over
      await sleep(retryMs, options.signal);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (err instanceof EnsembleApiError && !RETRYABLE_STATUSES.has(err.status)) throw err;
      failures += 1;
      if (failures > maxReconnects) throw err;
      const delay =
        err instanceof EnsembleApiError && err.retryAfterMs !== undefined
          ? err.retryAfterMs
          : retryMs * 2 ** (failures - 1);
      await sleep(Math.min(delay, 30_000), options.signal);
    } finally {
      // Also runs when the consumer stops iterating: close the connection.
      await reader?.cancel().catch(() => undefined);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError"));
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
