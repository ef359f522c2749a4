import type { FlowEventData, FlowEventType, FlowStreamUpdate, FlowStreamUpdateOf } from "@ensemble/core";
import type { Redis } from "ioredis";
import { EarlierEventsUnpublishedError } from "./errors/earlier-events-unpublished-error.js";
import { FlowEventsLostError } from "./errors/flow-events-lost-error.js";
import { DEFAULT_QUEUE_PREFIX } from "./queue-names.js";
import { whenFailFastReady } from "./redis-availability.js";
import { defineRedisScript, type RedisScript } from "./redis-script.js";
import { SharedSubscriber, type SubscriberSource } from "./shared-subscriber.js";

export interface ProgressBusOptions {
  /** Connection for writes and reads (any role). The caller owns it. */
  publisher: Redis;
  /**
   * Connection for SUBSCRIBE (`subscriber` role), or a factory called on the first
   * `subscribe` (the bus then owns and quits it on `close`). Needed only to subscribe.
   */
  subscriber?: SubscriberSource;
  /** Key prefix (env `QUEUE_PREFIX`). Default: `ensemble`. */
  prefix?: string;
  /** A flow's events are kept this long after its latest event. Default: 7 days. */
  retentionSeconds?: number;
  /** Approximate cap on stored events per flow (older ones are trimmed). Default: 50000. */
  maxEventsPerFlow?: number;
  /** With a fail-fast publisher: how long a call waits for it to (re)connect. Default: 1000 ms. */
  readyTimeoutMs?: number;
  /** Errors in listeners and subscription upkeep. Default: ignored. */
  onError?: (err: unknown) => void;
}

export interface PublishEventInput<T extends FlowEventType> {
  stepId?: string | undefined;
  data: FlowEventData<T>;
  /** Publish only while the flow's numbering exists (see `continueNumberingAfter`); else throw `FlowEventsLostError`. */
  numbered?: boolean;
  /** The event's outbox key: published once per key, however often this is called. */
  outboxKey?: string;
  /** Outbox keys of the flow's earlier durable events: if its stream lacks one, throw `EarlierEventsUnpublishedError`. */
  after?: readonly string[];
}

/** A durable event from the outbox, for `relay`. */
export interface RelayedEvent {
  key: string;
  type: FlowEventType;
  stepId: string | null;
  data: unknown;
  timestamp: string;
}

export interface SubscribeOptions {
  /** The subscriber reconnected: live events may have been missed; re-read to catch up. */
  onResubscribed?: () => void;
}

const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3_600;
// Token progress is coalesced to ~20 events/s per streaming step: this holds ~40 minutes of one.
const DEFAULT_MAX_EVENTS_PER_FLOW = 50_000;

// Numbering, storing and publishing happen in one script, so they are atomic (no id is
// stored but not published, or published twice) and cost one round trip. The id is only
// known inside the script, so the event JSON is spliced there: ARGV[1] is the event
// without `id`, always an object with at least one key. ARGV[5] = '1': only while the
// flow's numbering exists (-1 otherwise: its keys were lost). ARGV[6], when not empty, is
// the event's outbox key: an event whose key the flow's published hash has is not
// published again (its id is returned). ARGV[7..] are outbox keys that must be published
// before it (-2 otherwise).
const PUBLISH_SCRIPT = `
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[6] ~= '' then
  local known = redis.call('HGET', KEYS[3], ARGV[6])
  if known then return tonumber(known) end
end
for i = 7, #ARGV do
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then return -2 end
end
local seq = redis.call('INCR', KEYS[1])
local event = '{"id":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'e', event)
redis.call('PUBLISH', ARGV[2], event)
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[6], seq)
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return seq
`;
// Raises a flow's counter to ARGV[1] if it is lower, or creates it; never lowers it.
const RAISE_SEQ_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 0
`;
// Versioned so a changed script never collides with an older definition on a shared connection.
const PUBLISH_COMMAND = "ensemblePublishFlowEventV3";

// Which of the outbox keys ARGV the flow's stream lacks. When its numbering is gone (the
// first element is 1) it lacks all of them: the published hash went with it.
const UNPUBLISHED_SCRIPT = `
local lost = redis.call('EXISTS', KEYS[1]) == 0
local out = { lost and 1 or 0 }
for i = 1, #ARGV do
  if lost or redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then out[#out + 1] = ARGV[i] end
end
return out
`;
const UNPUBLISHED_COMMAND = "ensembleUnpublishedFlowEventsV1";

// The relay's publish of a flow's outbox events, in order, each at most once (by its key).
// A flow whose numbering is gone numbers on from ARGV[4] (or, when it is -1, is refused:
// -1); ARGV[5..] are key, event pairs.
const RELAY_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[4] == '-1' then return -1 end
  redis.call('SET', KEYS[1], ARGV[4])
end
local published = 0
for i = 5, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then
    local seq = redis.call('INCR', KEYS[1])
    local event = '{"id":' .. seq .. ',' .. string.sub(ARGV[i + 1], 2)
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', event)
    redis.call('PUBLISH', ARGV[1], event)
    redis.call('HSET', KEYS[3], ARGV[i], seq)
    published = published + 1
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return published
`;
const RELAY_COMMAND = "ensembleRelayFlowEventsV2";

const RAISE_SEQ_COMMAND = "ensembleRaiseFlowEventSeqV1";

// A page of events that stops, in Redis, once their JSON passes ARGV[3] bytes (the first
// event always comes): a page of large events is never sent over the connection whole. One
// entry per XRANGE, so Redis never copies more than the page (and one event) either.
const READ_BOUNDED_SCRIPT = `
local out = {}
local bytes = 0
local start = ARGV[1]
for _ = 1, tonumber(ARGV[2]) do
  local entry = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 1)[1]
  if not entry then return out end
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then
      local json = fields[i + 1]
      if #out > 0 and bytes + #json > tonumber(ARGV[3]) then return out end
      bytes = bytes + #json
      out[#out + 1] = json
    end
  end
  start = '(' .. entry[1]
end
return out
`;
const READ_BOUNDED_COMMAND = "ensembleReadFlowEventsBoundedV2";

/**
 * Per-flow progress events: numbered 1, 2, 3, … per flow, stored in a Redis stream for
 * replay, and published for live delivery.
 *
 * Consumers must not combine `subscribe` and `readAfter` by hand: use `followEvents`, which
 * subscribes first, then replays after the last seen id, then delivers live events with a
 * higher id (dedupe by id) — so nothing is missed or delivered twice.
 *
 * Keys (one flow's keys share a Redis Cluster slot through the `{flowId}` hash tag, unless
 * the prefix carries its own tag): `<prefix>:flow:{<flowId>}:seq`, `…:events`, `…:published`;
 * channel `…:live`.
 */
export class ProgressBus {
  readonly prefix: string;
  private readonly publisher: Redis;
  private readonly retentionSeconds: number;
  private readonly maxEventsPerFlow: number;
  private readonly subscriber: SharedSubscriber | undefined;
  private readonly onError: (err: unknown) => void;
  private readonly readyTimeoutMs: number;
  private readonly publishScript: RedisScript;
  private readonly unpublishedScript: RedisScript;
  private readonly relayScript: RedisScript;
  private readonly raiseSeqScript: RedisScript;
  private readonly readBoundedScript: RedisScript;

  constructor(options: ProgressBusOptions) {
    this.publisher = options.publisher;
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
    this.maxEventsPerFlow = options.maxEventsPerFlow ?? DEFAULT_MAX_EVENTS_PER_FLOW;
    this.onError = options.onError ?? (() => undefined);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.subscriber = options.subscriber ? new SharedSubscriber(options.subscriber, this.onError) : undefined;
    // Defined now, not at the first publish: an auto-pipelining connection copies its
    // commands into each pipeline when it creates it, and would not know a later one.
    this.publishScript = defineRedisScript(this.publisher, PUBLISH_COMMAND, PUBLISH_SCRIPT, 3);
    this.unpublishedScript = defineRedisScript(this.publisher, UNPUBLISHED_COMMAND, UNPUBLISHED_SCRIPT, 2);
    this.relayScript = defineRedisScript(this.publisher, RELAY_COMMAND, RELAY_SCRIPT, 3);
    this.raiseSeqScript = defineRedisScript(this.publisher, RAISE_SEQ_COMMAND, RAISE_SEQ_SCRIPT, 1);
    this.readBoundedScript = defineRedisScript(this.publisher, READ_BOUNDED_COMMAND, READ_BOUNDED_SCRIPT, 1);
  }

  /** Numbers, stores and publishes one event; returns it as subscribers receive it. */
  async publish<T extends FlowEventType>(
    flowId: string,
    type: T,
    input: PublishEventInput<T>,
  ): Promise<FlowStreamUpdateOf<T>> {
    const timestamp = new Date().toISOString();
    const withoutId = {
      type,
      flowId,
      ...(input.stepId !== undefined ? { stepId: input.stepId } : {}),
      data: input.data,
      timestamp,
    };
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "publish event");
    const id = Number(
      await this.publishScript(
        this.seqKey(flowId),
        this.eventsKey(flowId),
        this.publishedKey(flowId),
        JSON.stringify(withoutId),
        this.channel(flowId),
        this.maxEventsPerFlow,
        this.retentionSeconds,
        input.numbered ? "1" : "0",
        input.outboxKey ?? "",
        ...(input.after ?? []),
      ),
    );
    if (id === -1) throw new FlowEventsLostError(flowId);
    if (id === -2) throw new EarlierEventsUnpublishedError(flowId);
    // The object is built from T's own type and data; TypeScript cannot narrow the union by a generic.
    return { id, ...withoutId } as unknown as FlowStreamUpdateOf<T>;
  }

  /**
   * Which of these outbox keys the flow's stream lacks, in their order; `lost` when the
   * flow's numbering is gone from Redis (then it lacks them all).
   */
  async unpublished(flowId: string, keys: readonly string[]): Promise<{ lost: boolean; keys: string[] }> {
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "check published events");
    const [lost, ...missing] = (await this.unpublishedScript(
      this.seqKey(flowId),
      this.publishedKey(flowId),
      ...keys,
    )) as [number, ...string[]];
    return { lost: lost === 1, keys: missing };
  }

  /**
   * Publishes outbox events in their order, each unless the flow's stream has its key, in
   * one script (nothing published meanwhile comes between them). A flow whose numbering is
   * gone numbers on from `lostFloor` + 1, or with `lostFloor` null throws
   * `FlowEventsLostError`. Returns how many were published.
   */
  async relay(flowId: string, events: readonly RelayedEvent[], lostFloor: number | null): Promise<number> {
    if (events.length === 0) return 0;
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "relay events");
    const pairs = events.flatMap((e) => [
      e.key,
      JSON.stringify({
        type: e.type,
        flowId,
        ...(e.stepId !== null ? { stepId: e.stepId } : {}),
        data: e.data,
        timestamp: e.timestamp,
      }),
    ]);
    const published = await this.relayScript(
      this.seqKey(flowId),
      this.eventsKey(flowId),
      this.publishedKey(flowId),
      this.channel(flowId),
      this.maxEventsPerFlow,
      this.retentionSeconds,
      lostFloor ?? -1,
      ...pairs,
    );
    if (Number(published) === -1) throw new FlowEventsLostError(flowId);
    return Number(published);
  }

  /**
   * Stored events with id > `afterId`, oldest first, at most `limit`. Ids are contiguous
   * unless old events were trimmed (`maxEventsPerFlow`) or expired.
   */
  async readAfter(flowId: string, afterId: number, limit = 1_000): Promise<FlowStreamUpdate[]> {
    if (!Number.isSafeInteger(afterId) || afterId < 0)
      throw new RangeError(`afterId must be a non-negative integer, got ${afterId}`);
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "read events");
    const entries = await this.publisher.xrange(this.eventsKey(flowId), `(${afterId}-0`, "+", "COUNT", limit);
    const events: FlowStreamUpdate[] = [];
    for (const [, fields] of entries) {
      const index = fields.indexOf("e");
      const json = index >= 0 ? fields[index + 1] : undefined;
      if (json !== undefined) events.push(JSON.parse(json) as FlowStreamUpdate);
    }
    return events;
  }

  /**
   * Like `readAfter`, but the page also ends once its events' JSON passes `maxBytes` (at
   * least one event comes): what one read costs is bounded however large the events.
   */
  async readAfterBounded(
    flowId: string,
    afterId: number,
    limit: number,
    maxBytes: number,
  ): Promise<FlowStreamUpdate[]> {
    if (!Number.isSafeInteger(afterId) || afterId < 0)
      throw new RangeError(`afterId must be a non-negative integer, got ${afterId}`);
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "read events");
    const page = (await this.readBoundedScript(this.eventsKey(flowId), `(${afterId}-0`, limit, maxBytes)) as string[];
    return page.map((json) => JSON.parse(json) as FlowStreamUpdate);
  }

  /**
   * Calls `onEvent` for each live event of the flow; resolves once subscribed, with a
   * function that unsubscribes. All subscriptions of a bus share one connection and one
   * SUBSCRIBE per flow. Live only: see `followEvents` for replay.
   */
  async subscribe(
    flowId: string,
    onEvent: (event: FlowStreamUpdate) => void,
    options: SubscribeOptions = {},
  ): Promise<() => Promise<void>> {
    if (!this.subscriber) throw new Error("ProgressBus: pass `subscriber` to subscribe");
    return this.subscriber.subscribe(this.channel(flowId), {
      onMessage: (message) => onEvent(JSON.parse(message) as FlowStreamUpdate),
      ...(options.onResubscribed ? { onResubscribed: options.onResubscribed } : {}),
    });
  }

  /** The id of the flow's latest event; 0 if it has none (or they expired). */
  async lastEventId(flowId: string): Promise<number> {
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "read last event id");
    const value = await this.publisher.get(this.seqKey(flowId));
    return value === null ? 0 : Number(value);
  }

  /**
   * Makes the flow's next id higher than `lastId` (e.g. the highest id archived in Postgres):
   * a flow executed again after its Redis keys expired must not number from 1 again. Starts
   * the flow's numbering when it has none, which `numbered` publishes require.
   */
  async continueNumberingAfter(flowId: string, lastId: number): Promise<void> {
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "continue event numbering");
    await this.raiseSeqScript(this.seqKey(flowId), lastId, this.retentionSeconds);
  }

  /** Sets how long the flow's events are kept from now (e.g. shorter once archived). */
  async expire(flowId: string, seconds: number): Promise<void> {
    await whenFailFastReady(this.publisher, this.readyTimeoutMs, "expire events");
    await this.publisher
      .multi()
      .expire(this.seqKey(flowId), seconds)
      .expire(this.eventsKey(flowId), seconds)
      .expire(this.publishedKey(flowId), seconds)
      .exec();
  }

  /** Closes the subscriber connection if the bus created it; the publisher stays open. */
  async close(): Promise<void> {
    await this.subscriber?.close();
  }

  private flowKey(flowId: string): string {
    return `${this.prefix}:flow:{${flowId}}`;
  }

  private seqKey(flowId: string): string {
    return `${this.flowKey(flowId)}:seq`;
  }

  private eventsKey(flowId: string): string {
    return `${this.flowKey(flowId)}:events`;
  }

  /** Outbox key → id of each durable event the stream has (publish-once). */
  private publishedKey(flowId: string): string {
    return `${this.flowKey(flowId)}:published`;
  }

  private channel(flowId: string): string {
    return `${this.flowKey(flowId)}:live`;
  }
}
