import type { RunDeps } from "@ensemble/engine";
import type { ReadinessChecks } from "@ensemble/engine";
import type { AdminSessions } from "./auth/admin-sessions.js";
import type { RequestGuards } from "./guards/request-guards.js";
import type { EventStreamSettings } from "./events/event-stream-settings.js";
import type { HttpMetrics } from "./ops/http-metrics.js";

/** What the routes need: the engine's dependencies and the API's own settings. */
export interface AppContext {
  deps: RunDeps;
  adminToken: string | undefined;
  /** Bull Board's browser logins (Redis); unset: the board takes the bearer header only. */
  adminSessions?: AdminSessions;
  /** Express's `trust proxy` (TRUST_PROXY): which proxies' X-Forwarded-* to believe; unset: none. */
  trustProxy?: boolean | number | string;
  /**
   * Aborted when the process starts draining (SIGTERM): /readyz fails, new /v1 requests are
   * refused with 503, and held `?wait=true` requests are answered 202 at once.
   */
  shutdown?: AbortSignal;
  /** Checks Redis and Postgres for /readyz. */
  readiness: () => Promise<ReadinessChecks>;
  /**
   * Body limit, per-key rate limit and Idempotency-Key (guards/request-guards.ts). main.ts
   * always sets it; without it (tests that do not need them) the body limit is the default
   * and there is no rate limit or Idempotency-Key handling.
   */
  guards?: RequestGuards;
  /** How long a process trusts an API key it looked up (KEY_CACHE_TTL_MS); 0: every request looks it up. */
  keyCacheTtlMs?: number;
  /** The run viewer's built files (UI_DIR); default apps/ui/dist of this checkout. */
  uiDir?: string;
  /** SSE/WebSocket heartbeat and slow-client limits; defaults in events/event-stream-settings.ts. */
  events?: Partial<EventStreamSettings>;
  /** This process's HTTP metrics, recorded by the app; default: its own. */
  httpMetrics?: HttpMetrics;
  /** Serve /metrics on the app's port; false when HEALTH_PORT serves it instead. Default: true. */
  serveMetrics?: boolean;
}
