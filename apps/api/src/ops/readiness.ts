import { pingDatabase } from "@ensemble/db";
import type { EngineDeps } from "@ensemble/engine";
import { isRedisMemoryFull } from "@ensemble/queue";

export interface ReadinessChecks {
  redis: boolean;
  postgres: boolean;
  /** Redis answers but is at its maxmemory: it refuses writes, so no work can be queued. */
  redisFull?: boolean;
}

/**
 * The /readyz checks: Redis (the queues answer) and Postgres (`select 1`), in parallel,
 * each given at most `timeoutMs` — an unreachable host must not hold a probe for the
 * driver's 30 s connect timeout.
 */
export function readinessProbe(
  deps: Pick<EngineDeps, "producer" | "db">,
  timeoutMs = 2_000,
): () => Promise<ReadinessChecks> {
  return async () => {
    const [redis, postgres, redisFull] = await Promise.all([
      withTimeout(
        deps.producer.queueDepths().then(
          () => true,
          () => false,
        ),
        timeoutMs,
      ),
      withTimeout(pingDatabase(deps.db), timeoutMs),
      withTimeout(
        deps.producer.memory().then(isRedisMemoryFull, () => false),
        timeoutMs,
      ),
    ]);
    return redisFull ? { redis: false, postgres, redisFull } : { redis, postgres };
  };
}

async function withTimeout(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([check, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
