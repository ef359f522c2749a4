import { randomUUID } from "node:crypto";
import { Queue, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import postgres from "postgres";
import { closedLoop, type RunFigures } from "./stats.js";

export interface RawOptions {
  redisUrl: string;
  /** When set: each hop also commits one row to Postgres (the floor of a persisted step). */
  databaseUrl?: string;
  serialChains: number;
  concurrentChains: number;
}

const HOPS = 3;

/**
 * The baselines, in this process: a BullMQ job that enqueues the next, three hops
 * per chain (raw); the same plus one durable single-row insert per hop (floor).
 * Continuing hops are added LIFO, as Ensemble adds a running flow's next step.
 */
export async function benchRawBullmq(options: RawOptions): Promise<RunFigures> {
  const prefix = `bench-raw-${randomUUID().slice(0, 8)}`;
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("chain", { connection, prefix });
  const sql = options.databaseUrl ? postgres(options.databaseUrl, { max: 8, onnotice: () => undefined }) : null;
  if (sql)
    await sql`create table if not exists bench_hops (id text primary key, hop int not null, at timestamptz not null default now())`;

  const hops: number[] = [];
  const waiters = new Map<string, () => void>();
  const worker = new Worker(
    "chain",
    async (job: Job<{ chain: string; hop: number; doneAt: number }>) => {
      const startedAt = performance.now();
      if (job.data.hop > 0) hops.push(startedAt - job.data.doneAt);
      // The "step" itself does nothing; what follows is the cost of moving on.
      const doneAt = performance.now();
      if (sql)
        await sql`insert into bench_hops (id, hop) values (${`${job.data.chain}-${job.data.hop}`}, ${job.data.hop})`;
      if (job.data.hop + 1 < HOPS) {
        await queue.add(
          "hop",
          { chain: job.data.chain, hop: job.data.hop + 1, doneAt },
          { lifo: true, removeOnComplete: true },
        );
      } else {
        waiters.get(job.data.chain)?.();
      }
    },
    { connection: connection.duplicate(), prefix, concurrency: 200, removeOnComplete: { count: 0 } },
  );
  await worker.waitUntilReady();

  const runChain = async (): Promise<void> => {
    const chain = randomUUID();
    const done = new Promise<void>((resolve) => waiters.set(chain, resolve));
    await queue.add("hop", { chain, hop: 0, doneAt: 0 }, { removeOnComplete: true });
    await done;
    waiters.delete(chain);
  };
  // Warm-up: connections, scripts, JIT.
  await closedLoop(50, 10, runChain);
  hops.length = 0;
  const serialPerSecond = await closedLoop(options.serialChains, 1, runChain);
  const serialHops = [...hops];
  const concurrentPerSecond = await closedLoop(options.concurrentChains, 100, runChain);

  await worker.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await connection.quit();
  if (sql) {
    await sql`drop table bench_hops`;
    await sql.end();
  }
  return {
    name: sql ? "floor (BullMQ hop + PG commit)" : "raw BullMQ (3-hop chain)",
    hopsMs: serialHops,
    serialPerSecond,
    concurrentPerSecond,
  };
}
