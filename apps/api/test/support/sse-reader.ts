import type { FlowStreamUpdate } from "@ensemble/core";

export interface SseConnection {
  status: number;
  /** Events received so far, in order (the parsed `data` line). */
  events: FlowStreamUpdate[];
  /** Each event's `id:` and `event:` lines, to check they agree with the data. */
  frames: { id: string | undefined; event: string | undefined }[];
  comments: string[];
  /** The error body when the status is not 200. */
  errorBody: unknown;
  /** Resolves when the server ends the stream (never if the client aborts first). */
  ended: Promise<void>;
  /** Waits until `predicate` holds for the events received so far. */
  waitFor(predicate: (events: FlowStreamUpdate[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Disconnects (the client side). */
  abort(): void;
}

/** A raw SSE client for tests (fetch + a line parser), so the assertions see exactly what is on the wire. */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal });
  const conn: SseConnection = {
    status: res.status,
    events: [],
    frames: [],
    comments: [],
    errorBody: undefined,
    ended: Promise.resolve(),
    waitFor: async (predicate, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(conn.events)) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting; got ${conn.events.map((e) => `${e.id}:${e.type}`).join(" ")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    abort: () => controller.abort(),
  };
  if (res.status !== 200 || !res.body) {
    conn.errorBody = await res.json().catch(() => null);
    return conn;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  conn.ended = (async () => {
    let buffer = "";
    let frame: { id?: string; event?: string; data?: string } = {};
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line === "") {
            if (frame.data !== undefined) {
              conn.frames.push({ id: frame.id, event: frame.event });
              conn.events.push(JSON.parse(frame.data) as FlowStreamUpdate);
            }
            frame = {};
          } else if (line.startsWith(":")) conn.comments.push(line.slice(1).trim());
          else if (line.startsWith("id: ")) frame.id = line.slice(4);
          else if (line.startsWith("event: ")) frame.event = line.slice(7);
          else if (line.startsWith("data: ")) frame.data = line.slice(6);
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
      await new Promise(() => undefined); // aborted by the test: never "ended by the server"
    }
  })();
  return conn;
}
