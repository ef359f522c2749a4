import type { RequestHandler } from "express";
import { bearerToken, hashApiKey } from "../auth/api-keys.js";

/**
 * Requests of one API key that run at once in this process; the key's next ones wait
 * their turn, in order. One event loop serves every key: without this, a key that sends
 * a burst of N requests has all N looked up, checked and answered before another key's
 * request that arrived behind them, and that key's latency grows with N. With it,
 * another key's request waits for at most `perKey` of them.
 */
export class KeyConcurrency {
  private readonly keys = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(private readonly perKey: number) {}

  /** Resolves once the key may run one more request; call the returned function when it has been answered. */
  async acquire(key: string): Promise<() => void> {
    let entry = this.keys.get(key);
    if (!entry) {
      entry = { running: 0, waiting: [] };
      this.keys.set(key, entry);
    }
    if (entry.running >= this.perKey) await new Promise<void>((resolve) => entry.waiting.push(resolve));
    else entry.running += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiting.shift();
      // The slot passes straight to the next request, so no newcomer can take it first.
      if (next) next();
      else if (--entry.running === 0) this.keys.delete(key);
    };
  }

  /** Keys with requests running or waiting (bounded by the requests in flight). */
  get size(): number {
    return this.keys.size;
  }
}

/**
 * Before `authenticate`, so a burst's key lookups take turns too. Requests held open by
 * design — event streams (counted by MAX_STREAMS_PER_KEY) and `?wait=true` — do not take
 * a turn: they would keep the key's other requests waiting for a whole run.
 */
export function limitKeyConcurrency(concurrency: KeyConcurrency): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token || req.query.wait === "true" || (req.method === "GET" && req.path.endsWith("/events"))) {
      next();
      return;
    }
    const release = await concurrency.acquire(hashApiKey(token));
    res.once("close", release);
    next();
  };
}
