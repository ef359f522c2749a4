import type { Logger } from "pino";

/**
 * Exits 0 after draining on SIGTERM/SIGINT: closers run in order (stop taking work,
 * finish what is in flight, close connections). A second signal, or a drain that
 * takes longer than `graceMs`, exits at once with 1.
 */
export function closeOnSignals(logger: Logger, closers: (() => Promise<void>)[], graceMs = 30_000): void {
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, "draining before exit");
    const timer = setTimeout(() => {
      logger.error({ graceMs }, "drain took too long; exiting");
      process.exit(1);
    }, graceMs);
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
