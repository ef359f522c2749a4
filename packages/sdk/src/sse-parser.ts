/** One dispatched Server-Sent Event. */
export interface SseMessage {
  /** The last `id:` seen on the stream (it persists across events, per the spec); "" if none. */
  id: string;
  /** The `event:` field; "message" when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** A `retry:` reconnection delay in ms, if this event carried one. */
  retry?: number;
}

/**
 * An incremental parser for `text/event-stream` (the WHATWG "event stream
 * interpretation"): feed decoded text in chunks of any size, get the complete events.
 * Lines end in CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of
 * the next are one line end); `:` lines are comments; a blank line dispatches the
 * event; an event without data is not dispatched.
 */
export class SseParser {
  private buffer = "";
  private sawCarriageReturn = false;
  private started = false;
  private lastEventId = "";
  private eventType = "";
  private data: string[] = [];
  private retry: number | undefined;

  /** @param onComment called with each comment line's text (heartbeats), without the colon. */
  constructor(private readonly onComment?: (comment: string) => void) {}

  /** Parses a chunk; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CRLF split across chunks: the LF belongs to the line the CR already ended.
    if (this.sawCarriageReturn && text.startsWith("\n")) text = text.slice(1);
    this.sawCarriageReturn = false;
    this.buffer += text;

    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const ch = this.buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      const line = this.buffer.slice(start, i);
      if (ch === "\r") {
        if (i + 1 === this.buffer.length) this.sawCarriageReturn = true;
        else if (this.buffer[i + 1] === "\n") i += 1;
      }
      start = i + 1;
      const message = this.processLine(line);
      if (message) messages.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return messages;
  }

  private processLine(line: string): SseMessage | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) {
      this.onComment?.(line.slice(1).trimStart());
      return undefined;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const hasData = this.data.length > 0;
    const message: SseMessage = {
      id: this.lastEventId,
      event: this.eventType || "message",
      data: this.data.join("\n"),
      ...(this.retry !== undefined ? { retry: this.retry } : {}),
    };
    this.data = [];
    this.eventType = "";
    this.retry = undefined;
    return hasData ? message : undefined;
  }
}
