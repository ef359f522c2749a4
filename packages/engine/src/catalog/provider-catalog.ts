import { ValidationError, type CompiledFlow, type ValidationIssue } from "@ensemble/core";
import {
  listKnownProviders,
  listProviderCatalog,
  PROVIDER_HEARTBEAT_MS,
  pruneProviderWorkers,
  registerProviderWorker,
  removeProviderWorker,
  type CatalogProvider,
  type Database,
  type Executor,
  type ServedProvider,
} from "@ensemble/db";
import type { Logger } from "pino";

/** Entries of workers that died without leaving are dropped after a day (their providers stay known). */
const FORGET_DEAD_WORKERS_MS = 86_400_000;
/** How long the API trusts its copy of the known providers before a flow naming one it lacks makes it look again. */
const KNOWN_PROVIDERS_TTL_MS = 5_000;

export interface ProviderCatalogOptions {
  db: Database;
  logger: Logger;
  /** Between a worker's heartbeats. Default: PROVIDER_HEARTBEAT_MS. */
  heartbeatMs?: number;
}

/** A worker's place in the catalog: its heartbeat runs until it leaves. */
export interface CatalogMembership {
  leave(): Promise<void>;
}

/**
 * The providers this cluster serves, kept in Postgres: each worker registers the providers
 * it serves (with its model allowlist and rate limits) and renews that with a heartbeat. A
 * provider stays known when its pool scales to zero, so flows naming it are accepted and
 * wait in its queue; a provider no worker ever served is refused when a flow is created or
 * executed.
 */
export class ProviderCatalog {
  private readonly db: Database;
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private known: { providers: Map<string, string[] | null>; at: number } | null = null;

  constructor(options: ProviderCatalogOptions) {
    this.db = options.db;
    this.logger = options.logger;
    this.heartbeatMs = options.heartbeatMs ?? PROVIDER_HEARTBEAT_MS;
  }

  /** Registers `workerId` for `served` now and every heartbeat until `leave()`, which deregisters it. */
  async join(workerId: string, served: readonly ServedProvider[]): Promise<CatalogMembership> {
    await registerProviderWorker(this.db, workerId, served);
    const beat = async (): Promise<void> => {
      try {
        await registerProviderWorker(this.db, workerId, served);
        await pruneProviderWorkers(this.db, FORGET_DEAD_WORKERS_MS);
      } catch (err) {
        // Postgres is away: the worker goes on; it counts as live again with its next heartbeat.
        this.logger.warn({ err }, "provider catalog heartbeat failed");
      }
    };
    const timer = setInterval(() => void beat(), this.heartbeatMs);
    timer.unref();
    return {
      leave: async () => {
        clearInterval(timer);
        await removeProviderWorker(this.db, workerId).catch((err: unknown) =>
          this.logger.warn({ err }, "could not leave the provider catalog; the entry lapses by itself"),
        );
      },
    };
  }

  /** Every known provider with its live workers, sorted by key. */
  list(): Promise<CatalogProvider[]> {
    return listProviderCatalog(this.db);
  }

  /** Known provider keys, sorted (live or not). */
  async keys(): Promise<string[]> {
    return [...(await this.knownProviders(false)).keys()].sort();
  }

  /**
   * Throws a ValidationError naming every step (and fallback) whose provider the cluster does
   * not serve, or whose model is outside that provider's allowlist. Paths are the request's
   * (`definition.steps[1].fallbacks[0].provider`); the message lists the providers served.
   */
  async assertServed(compiled: CompiledFlow, db: Executor = this.db): Promise<void> {
    let issues = unservedTargets(compiled, await this.knownProviders(false, db));
    // A provider registered since the copy was read: look once more before refusing.
    if (issues.length > 0) issues = unservedTargets(compiled, await this.knownProviders(true, db));
    if (issues.length > 0) throw new ValidationError(issues);
  }

  /**
   * `db`: where to read when the copy is stale. Inside a transaction, pass it: a read on the
   * pool would wait for a free connection, and when every connection is held by a
   * transaction waiting the same way, none comes (the executes of a busy API all stalled).
   */
  private async knownProviders(fresh: boolean, db: Executor = this.db): Promise<Map<string, string[] | null>> {
    if (!fresh && this.known && Date.now() - this.known.at < KNOWN_PROVIDERS_TTL_MS) return this.known.providers;
    const providers = await listKnownProviders(db);
    this.known = { providers, at: Date.now() };
    return providers;
  }
}

function unservedTargets(compiled: CompiledFlow, known: Map<string, string[] | null>): ValidationIssue[] {
  const served = [...known.keys()].sort();
  const servedText = served.length > 0 ? `served: ${served.join(", ")}` : "no worker has registered a provider yet";
  const issues: ValidationIssue[] = [];
  for (const step of compiled.steps) {
    step.targets.forEach((target, j) => {
      const at = j === 0 ? `definition.steps[${step.index}]` : `definition.steps[${step.index}].fallbacks[${j - 1}]`;
      const models = known.get(target.provider);
      if (models === undefined) {
        issues.push({
          path: `${at}.provider`,
          message: `provider "${target.provider}" is not served by this cluster (${servedText})`,
        });
      } else if (models !== null && !models.includes(target.model)) {
        issues.push({
          path: `${at}.model`,
          message: `model "${target.model}" is not allowed for provider "${target.provider}" (allowed: ${models.join(", ")})`,
        });
      }
    });
  }
  return issues;
}
