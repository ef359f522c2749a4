import type { Redis } from "ioredis";
import { closeRedisConnection } from "./connection.js";

/** A subscriber connection, or a factory that creates one on first use (then owned by us). */
export type SubscriberSource = Redis | (() => Redis);

export interface ChannelListener {
  onMessage: (message: string) => void;
  /** Called after the connection came back and re-subscribed: messages may have been missed. */
  onResubscribed?: () => void;
}

interface ChannelEntry {
  listeners: Set<ChannelListener>;
  subscribed: Promise<unknown>;
}

/**
 * One pub/sub connection shared by many listeners, with SUBSCRIBE refcounted per channel:
 * a thousand SSE clients on one flow cost one subscription, not a thousand connections.
 */
export class SharedSubscriber {
  private connection: Redis | undefined;
  private readonly channels = new Map<string, ChannelEntry>();
  private readyCount = 0;

  constructor(
    private readonly source: SubscriberSource,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Adds a listener on `channel`; resolves once Redis confirmed the subscription. */
  async subscribe(channel: string, listener: ChannelListener): Promise<() => Promise<void>> {
    const connection = this.connect();
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), subscribed: connection.subscribe(channel) };
      this.channels.set(channel, entry);
    }
    const current = entry;
    current.listeners.add(listener);
    try {
      await current.subscribed;
    } catch (err) {
      await this.removeListener(channel, current, listener);
      throw err;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      await this.removeListener(channel, current, listener);
    };
  }

  /** Drops every listener; quits the connection if we created it. */
  async close(): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const channels = [...this.channels.keys()];
    this.channels.clear();
    this.connection = undefined;
    connection.off("message", this.handleMessage);
    connection.off("ready", this.handleReady);
    if (typeof this.source === "function") {
      await closeRedisConnection(connection);
    } else if (channels.length > 0) {
      await connection.unsubscribe(...channels).catch(this.onError);
    }
  }

  private connect(): Redis {
    if (!this.connection) {
      const connection = typeof this.source === "function" ? this.source() : this.source;
      // Count the initial 'ready' so only later ones (reconnects) trigger a resync.
      this.readyCount = connection.status === "ready" ? 1 : 0;
      connection.on("message", this.handleMessage);
      connection.on("ready", this.handleReady);
      this.connection = connection;
    }
    return this.connection;
  }

  private async removeListener(channel: string, entry: ChannelEntry, listener: ChannelListener): Promise<void> {
    entry.listeners.delete(listener);
    if (entry.listeners.size > 0 || this.channels.get(channel) !== entry) return;
    this.channels.delete(channel);
    // Commands on one connection run in order, so a SUBSCRIBE issued after this (a new
    // listener arriving) still wins.
    await this.connection?.unsubscribe(channel).catch(this.onError);
  }

  private readonly handleMessage = (channel: string, message: string): void => {
    const entry = this.channels.get(channel);
    if (!entry) return;
    for (const listener of entry.listeners) {
      try {
        listener.onMessage(message);
      } catch (err) {
        this.onError(err);
      }
    }
  };

  private readonly handleReady = (): void => {
    this.readyCount += 1;
    if (this.readyCount === 1 || !this.connection) return;
    // ioredis re-sends SUBSCRIBE just before emitting 'ready'; a PING queued behind it
    // resolves once Redis has processed the re-subscription, so a catch-up read started
    // afterwards cannot miss an event published in between.
    this.connection
      .ping()
      .then(() => {
        for (const entry of this.channels.values()) {
          for (const listener of entry.listeners) listener.onResubscribed?.();
        }
      })
      .catch(this.onError);
  };
}
