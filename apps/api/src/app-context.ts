import type { EngineDeps } from "@ensemble/engine";

/** What the routes need: the engine's dependencies and the API's own settings. */
export interface AppContext {
  deps: EngineDeps;
  adminToken: string | undefined;
  /** Checks Redis and Postgres for /readyz. */
  readiness: () => Promise<{ redis: boolean; postgres: boolean }>;
}
