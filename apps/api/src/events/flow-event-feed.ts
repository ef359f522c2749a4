import { isTerminalFlowEvent, isTerminalFlowStatus, type FlowStreamUpdate } from "@ensemble/core";
import { findFlow } from "@ensemble/db";
import type { RunDeps } from "@ensemble/engine";
import { followEvents } from "@ensemble/queue";
import { readArchivedEvents } from "./archived-events.js";
import type { EventSink, StreamEndReason } from "./event-sink.js";

/** How long after a run's end its terminal event may still be on its way. */
const END_EVENT_GRACE_MS = 2_000;
/** Events read per page (archive and stream): bounds what one connection holds at once. */
const PAGE_SIZE = 100;
/** A page from the stream also ends once its events pass this many bytes (events can be MBs each). */
const PAGE_BYTES = 4 * 1_048_576;
/** How often a waiting client's unsent bytes are looked at (the `slowClientBytes` check). */
const STALL_CHECK_MS = 250;

export interface FlowEventFeedOptions {
  deps: RunDeps;
  flowId: string;
  /** Deliver events with a higher id (Last-Event-ID); 0 = the whole history. */
  afterId: number;
  sink: EventSink;
  /** A client whose buffer stays full this long is dropped. */
  slowClientMs: number;
  /** A client with more unsent bytes than this that takes none of them is dropped at once. */
  slowClientBytes: number;
}

/**
 * One client's view of a flow's events: the history after `afterId` (the Redis stream,
 * or the Postgres archive where the stream no longer has it), then live events, each
 * once and in id order; the stream ends once the flow has ended and everything up to
 * its last event was sent.
 *
 * Backpressure: history is pulled a page at a time, and the next event is written only
 * once the connection has room. Live events come from `followEvents` (subscribe, replay,
 * then live without gap or duplicate); when the connection's buffer fills, the feed
 * stops following (nothing piles up in this process), waits for the buffer to drain,
 * pulls what it missed and follows again — the Redis stream is the buffer. A client
 * still full after `slowClientMs`, or that takes nothing of more than `slowClientBytes`
 * unsent, is dropped; it reconnects with Last-Event-ID and loses nothing.
 */
export class FlowEventFeed {
  private lastSent: number;
  private closed = false;
  /** Set while the connection's buffer is full: live events are skipped and re-read later. */
  private paused = false;
  private wake: () => void = () => undefined;
  private endCheck: Promise<void> | null = null;
  private recheckEnd = false;
  private sawTerminalEvent = false;
  /** When the last terminal event sent was published (ms; 0: none). */
  private lastTerminalAt = 0;
  private endRecheck: NodeJS.Timeout | undefined;

  constructor(private readonly options: FlowEventFeedOptions) {
    this.lastSent = options.afterId;
  }

  /** The id of the last event written to the client. */
  get lastEventId(): number {
    return this.lastSent;
  }

  /** Runs until the stream ends or `close` is called; never rejects. */
  async run(): Promise<void> {
    const { deps, flowId } = this.options;
    try {
      while (!this.closed) {
        await this.catchUp();
        if (this.closed) return;
        this.paused = false;
        const interrupted = new Promise<void>((resolve) => (this.wake = resolve));
        const stop = await followEvents(deps.bus, flowId, this.lastSent, (event) => this.deliverLive(event), {
          pageSize: PAGE_SIZE,
          onError: (err) => deps.logger.warn({ err, flowId }, "event stream: live catch-up read failed"),
        });
        // A client that joins after the flow ended has everything now.
        this.scheduleEndCheck();
        await interrupted; // the buffer filled up, or the stream closed
        await stop();
        if (this.closed) return;
        await this.waitForRoom();
      }
    } catch (err) {
      deps.logger.warn({ err, flowId }, "event stream failed; the client can resume with Last-Event-ID");
      this.finish("error");
    }
  }

  /** Ends the stream from outside (client gone, server shutting down). */
  close(reason?: StreamEndReason): void {
    if (reason) this.finish(reason);
    else this.markClosed();
  }

  /**
   * Pulls stored events after the last one sent, a page at a time, writing as fast as the
   * client reads. When the buffer fills, the rest of the page is let go and read again once
   * it drains: a waiting client holds no page of (possibly large) events in this process.
   */
  private async catchUp(): Promise<void> {
    for (;;) {
      const outcome = this.writePage(await this.nextPage());
      if (outcome === "done" || this.closed) return;
      if (outcome === "full") await this.waitForRoom();
    }
  }

  /** Writes a page until the buffer fills: "full", "done" (nothing left to read), or "more". */
  private writePage(page: FlowStreamUpdate[]): "full" | "done" | "more" {
    // A page cut by bytes is shorter than PAGE_SIZE and still not the last: only an empty one is.
    if (page.length === 0) return "done";
    for (const event of page) {
      if (this.closed) return "done";
      if (!this.write(event)) return "full";
    }
    return "more";
  }

  /** The next stored events: from the Redis stream, or the archive when the stream lacks the next id. */
  private async nextPage(): Promise<FlowStreamUpdate[]> {
    const { deps, flowId } = this.options;
    const fromStream = await deps.bus.readAfterBounded(flowId, this.lastSent, PAGE_SIZE, PAGE_BYTES);
    if (fromStream[0]?.id === this.lastSent + 1) return fromStream;
    const archived = await readArchivedEvents(deps.db, flowId, this.lastSent, PAGE_SIZE);
    // Neither has the next id (trimmed and never archived): continue with what exists.
    return archived.length > 0 ? archived : fromStream;
  }

  private deliverLive(event: FlowStreamUpdate): void {
    if (this.closed || this.paused) return; // re-read from the stream after the buffer drains
    if (!this.write(event)) {
      this.paused = true;
      this.wake();
    }
  }

  /** Writes one event if it is the next one; false when the connection's buffer is full. */
  private write(event: FlowStreamUpdate): boolean {
    if (event.id <= this.lastSent) return true;
    this.lastSent = event.id;
    const accepted = this.options.sink.send(event);
    if (isTerminalFlowEvent(event)) {
      this.sawTerminalEvent = true;
      this.lastTerminalAt = Date.parse(event.timestamp) || 0;
    }
    // After a terminal event, any event may be the last one (a step's late failure follows a cancel).
    if (this.sawTerminalEvent) this.scheduleEndCheck();
    return accepted;
  }

  /**
   * Waits for the client's buffer to drain. Drops the client if it does not within
   * `slowClientMs` — or at once once it holds more than `slowClientBytes` unsent and took
   * none of it since the last look (a client that reads, however large the event, is kept).
   */
  private async waitForRoom(): Promise<void> {
    const { sink, slowClientMs, slowClientBytes } = this.options;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const tooSlow = new Promise<string>(
      (resolve) => (timer = setTimeout(() => resolve(`its buffer stayed full for ${slowClientMs} ms`), slowClientMs)),
    );
    const stalled = new Promise<string>((resolve) => {
      let before = sink.bufferedBytes();
      poll = setInterval(() => {
        const now = sink.bufferedBytes();
        if (now > slowClientBytes && now >= before)
          resolve(`${now} bytes unsent (over ${slowClientBytes}) and none taken in ${STALL_CHECK_MS} ms`);
        before = now;
      }, STALL_CHECK_MS);
    });
    const closedMeanwhile = new Promise<null>((resolve) => (this.wake = () => resolve(null)));
    const slow = await Promise.race([sink.drained().then(() => null), tooSlow, stalled, closedMeanwhile]);
    clearTimeout(timer);
    clearInterval(poll);
    if (slow && !this.closed) {
      this.options.deps.logger.warn(
        { flowId: this.options.flowId, lastEventId: this.lastSent, why: slow },
        "event stream: client too slow, dropped",
      );
      this.finish("slow_client");
    }
  }

  /** Checks, one check at a time, whether the flow is over and the client has its last event. */
  private scheduleEndCheck(): void {
    if (this.closed) return;
    if (this.endCheck) {
      this.recheckEnd = true;
      return;
    }
    this.endCheck = this.checkEnd()
      .catch((err: unknown) =>
        this.options.deps.logger.warn({ err, flowId: this.options.flowId }, "event stream: end check failed"),
      )
      .finally(() => {
        this.endCheck = null;
        if (this.recheckEnd) {
          this.recheckEnd = false;
          this.scheduleEndCheck();
        }
      });
  }

  private async checkEnd(): Promise<void> {
    const { deps, flowId } = this.options;
    const flow = await findFlow(deps.db, flowId);
    if (!flow) return this.finish("flow_ended"); // deleted meanwhile
    if (!isTerminalFlowStatus(flow.status)) return;
    if (this.lastSent < (await deps.bus.lastEventId(flowId))) return;
    // A run's events are published just after its end commits: "terminal, and nothing newer
    // than what was sent" holds in between too. The client has seen the end once it has the
    // current run's terminal event — published by the process that ended the run, after it
    // recorded completedAt, so not older — and not an earlier run's (a flow run again).
    const completedAt = flow.completedAt?.getTime() ?? 0;
    const waitedMs = Date.now() - completedAt;
    if (this.lastTerminalAt >= completedAt || waitedMs >= END_EVENT_GRACE_MS) return this.finish("flow_ended");
    // Its events are on their way; if they never come (the process died after the commit), end anyway.
    clearTimeout(this.endRecheck);
    this.endRecheck = setTimeout(() => this.scheduleEndCheck(), END_EVENT_GRACE_MS - waitedMs);
    this.endRecheck.unref();
  }

  private finish(reason: StreamEndReason): void {
    if (this.closed) return;
    this.markClosed();
    this.options.sink.end(reason);
  }

  private markClosed(): void {
    this.closed = true;
    clearTimeout(this.endRecheck);
    this.wake();
  }
}
