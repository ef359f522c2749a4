import type { EngineDeps } from "@ensemble/engine";
import type { EventStreamSettings } from "./events/event-stream-settings.js";

/** What the routes need: the engine's dependencies and the API's own settings. */
export interface AppContext {
  deps: EngineDeps;
  adminToken: string | undefined;
  /** Checks Redis and Postgres for /readyz. */
  readiness: () => Promise<{ redis: boolean; postgres: boolean }>;
  /** SSE/WebSocket heartbeat and slow-client limits; defaults in events/event-stream-settings.ts. */
  events?: Partial<EventStreamSettings>;
}
