// `pnpm bench`: Ensemble's per-step overhead and throughput, with the raw-BullMQ baselines measured in the same run.
import { createTestDatabase } from "@ensemble/db/testing";
import { benchEnsemble } from "./ensemble.js";
import { benchRawBullmq } from "./raw-bullmq.js";
import { formatRow, percentile } from "./stats.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const scale = Number(process.env.BENCH_SCALE ?? "1");
const n = (base: number): number => Math.max(10, Math.round(base * scale));

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);
const database = await createTestDatabase();
try {
  log("raw BullMQ chains");
  const raw = await benchRawBullmq({ redisUrl, serialChains: n(300), concurrentChains: n(5000) });
  log("floor: BullMQ hop + Postgres commit");
  const floor = await benchRawBullmq({
    redisUrl,
    databaseUrl: database.url,
    serialChains: n(300),
    concurrentChains: n(3000),
  });
  log("Ensemble: scheduler + worker processes, every step persisted");
  const ensemble = await benchEnsemble({
    redisUrl,
    databaseUrl: database.url,
    serialFlows: n(150),
    concurrentFlows: n(1500),
    workerConcurrency: 200,
  });

  console.log(formatRow(raw));
  console.log(formatRow(floor));
  console.log(formatRow(ensemble));
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  console.log(
    `overhead_p50_vs_floor=${ratio(percentile(ensemble.hopsMs, 50), percentile(floor.hopsMs, 50))} ` +
      `overhead_p99_vs_floor=${ratio(percentile(ensemble.hopsMs, 99), percentile(floor.hopsMs, 99))} ` +
      `throughput_vs_raw=${ratio(ensemble.concurrentPerSecond, raw.concurrentPerSecond)}`,
  );
} finally {
  await database.drop();
}
// Child processes and pools are closed; exit without waiting for idle sockets to time out.
process.exit(0);
