import { pingDatabase } from "@ensemble/db";
import { isRedisMemoryFull, type Worker } from "@ensemble/queue";
import type { RunDeps } from "../engine-deps.js";

export interface ReadinessChecks {
  redis: boolean;
  postgres: boolean;
  /** Redis answers but is at its maxmemory: it refuses writes, so no work can be queued. */
  redisFull?: boolean;
}

/**
 * The checks every process's /readyz makes: Redis (the queues answer, and it is not at its
 * maxmemory) and Postgres
 * (`select 1`), in parallel, each given at most `timeoutMs` — an unreachable host must not
 * hold a probe for the driver's 30 s connect timeout.
 */
export function readinessProbe(
  deps: Pick<RunDeps, "producer" | "db">,
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

/**
 * A worker's or scheduler's /readyz: Redis, Postgres, and each queue it consumes
 * (`queue:steps-openai`: its BullMQ worker is running — not once it is closing).
 */
export function processReadinessProbe(
  deps: Pick<RunDeps, "producer" | "db">,
  workers: () => readonly Worker[],
): () => Promise<Record<string, boolean>> {
  const stores = readinessProbe(deps);
  return async () => ({
    ...(await stores()),
    ...Object.fromEntries(workers().map((worker) => [`queue:${worker.name}`, worker.isRunning()])),
  });
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
