import { isDatabaseUnavailable } from "@ensemble/db";
import type { Logger } from "pino";

export interface CloseOnSignalsOptions {
  /**
   * How long the closers may take (env DRAIN_MS). Past it the process exits anyway: a step
   * it did not finish keeps its lease and is taken over once that runs out. Keep it below
   * the orchestrator's grace period (Kubernetes' `terminationGracePeriodSeconds`, 30 s by
   * default). Default: 25000.
   */
  drainMs?: number;
  /** Runs the moment the first signal arrives, before any closer (e.g. /readyz starts failing). */
  onSignal?: () => void;
}

/**
 * Drains on SIGTERM/SIGINT, then exits 0: the closers run in order (stop taking work,
 * finish what is in flight, close connections). The drain runs once: a second signal
 * (a process group's SIGTERM reaches both a wrapper and its child, which forwards it)
 * is logged and ignored.
 */
export function closeOnSignals(
  logger: Logger,
  closers: (() => Promise<void>)[],
  options: CloseOnSignalsOptions = {},
): void {
  const drainMs = options.drainMs ?? 25_000;
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) {
      logger.info({ signal }, "already draining; signal ignored");
      return;
    }
    closing = true;
    logger.info({ signal, drainMs }, "draining before exit");
    options.onSignal?.();
    const timer = setTimeout(() => {
      logger.warn(
        { drainMs },
        "drain did not finish within DRAIN_MS; exiting (unfinished steps are taken over when their leases run out)",
      );
      process.exit(0);
    }, drainMs);
    timer.unref();
    void (async () => {
      for (const close of closers) {
        try {
          await close();
        } catch (err) {
          logger.error({ err }, "error while closing");
        }
      }
      logger.info("stopped");
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

/**
 * Keeps the process up when Postgres goes away: a statement sent ahead in a pipeline
 * (postgres.js rejects every query queued on a connection that closed) can reject with
 * nobody left to await it, and Node would exit on that unhandled rejection. Such a
 * connection error is logged; the work it belonged to failed already and is retried
 * (jobs, leases, the sweeper). Any other unhandled rejection still ends the process.
 */
export function surviveDatabaseDisconnects(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    if (!isDatabaseUnavailable(reason)) throw reason;
    logger.warn({ err: reason }, "database connection lost (unawaited statement); continuing");
  });
}
