// `pnpm bench:soak`: does Redis hold on to anything once flows have ended? A scheduler and a
// worker run as separate processes on a database and queue prefix of their own; this process
// executes flows as the API would. After a warm-up, the prefix's Redis keys and their memory
// (MEMORY USAGE, so other users of the same Redis do not count) are the baseline. Then
// SOAK_FLOWS single-step flows run, and the keys are counted again right after the last one
// ended and once their archived streams' retention (ARCHIVED_EVENTS_TTL_MS, here
// SOAK_RETENTION_MS) has passed. Flat means: every key but BullMQ's completed-job history is
// back to the baseline, and that history stays within its bound (10,000 per queue, 1 h).
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createEngine, createFlow, createLogger, executeFlow } from "@ensemble/engine";
import { insertThread, insertUser } from "@ensemble/db";
import { createTestDatabase } from "@ensemble/db/testing";
import { createRedisConnection, QUEUE_NAMES, stepQueueName } from "@ensemble/queue";
import postgres from "postgres";
import { closedLoop } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
const FLOWS = Number(process.env.SOAK_FLOWS ?? "3000");
/** How long an archived flow's events stay in Redis (the processes' ARCHIVED_EVENTS_TTL_MS). */
const RETENTION_MS = Number(process.env.SOAK_RETENTION_MS ?? "10000");
const IN_FLIGHT = 50;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const database = await createTestDatabase();
const prefix = `bench-soak-${randomUUID().slice(0, 8)}`;
const env = {
  ...process.env,
  DATABASE_URL: database.url,
  QUEUE_PREFIX: prefix,
  LOG_LEVEL: "warn",
  ARCHIVED_EVENTS_TTL_MS: String(RETENTION_MS),
  WORKER_CONCURRENCY: String(IN_FLIGHT * 2),
};
const node = (script: string): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] });
const children = [node("apps/scheduler/src/main.ts"), node("apps/worker/src/main.ts")];
const engine = await createEngine({
  redisUrl: REDIS_URL,
  databaseUrl: database.url,
  queuePrefix: prefix,
  logger: createLogger({ level: "warn", name: "bench-soak" }),
  migrate: true,
  settings: { archivedEventsTtlMs: RETENTION_MS },
});
const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
const redis = createRedisConnection({ url: REDIS_URL, role: "worker", name: "bench-soak" });

interface Footprint {
  keys: number;
  bytes: number;
  /** Completed jobs BullMQ keeps as history (removeOnComplete: at most 10,000 per queue, for at most 1 h). */
  jobHistory: number;
}

/** The prefix's keys, the bytes Redis says they take, and how many of them are job history. */
async function redisFootprint(): Promise<Footprint> {
  let keys = 0;
  let bytes = 0;
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    keys += batch.length;
    const sizes = await Promise.all(batch.map((key) => redis.memory("USAGE", key)));
    bytes += sizes.reduce<number>((sum, size) => sum + Number(size ?? 0), 0);
  } while (cursor !== "0");
  const kept = await Promise.all(
    [QUEUE_NAMES.flows, stepQueueName("sim")].map((queue) => redis.zcard(`${prefix}:${queue}:completed`)),
  );
  return { keys, bytes, jobHistory: kept.reduce((a, b) => a + b, 0) };
}

async function waitEnded(ids: string[]): Promise<void> {
  for (const deadline = Date.now() + 600_000; ; await sleep(500)) {
    const [row] = await sql<{ open: number }[]>`
      select count(*)::int as open from flows where id = any(${ids}) and completed_at is null`;
    if ((row?.open ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`${row?.open} flows still open after 600 s`);
  }
}

/** Archival (once a second) has taken the flows' events, and their retention has run out. */
const settle = () => sleep(RETENTION_MS + 15_000);

try {
  const { deps } = engine;
  while (!(await deps.providerCatalog.list()).some((p) => p.key === "sim" && p.liveWorkers.length > 0))
    await sleep(100);
  const user = await insertUser(deps.db, { name: "bench-soak" });
  const thread = await insertThread(deps.db, { ownerId: user.id, title: "bench-soak" });
  const definition = {
    name: "soak",
    type: "sequential",
    steps: [{ id: "call", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" }],
  };
  const runFlows = async (count: number): Promise<void> => {
    const ids: string[] = [];
    await closedLoop(count, IN_FLIGHT, async () => {
      const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition });
      ids.push(flow.id);
      await executeFlow(deps, flow.id, { executedBy: user.id, input: "soak" });
    });
    await waitEnded(ids);
  };

  log(`warm-up: 50 flows, then ${(RETENTION_MS + 15_000) / 1000} s for archival and retention`);
  await runFlows(50);
  await settle();
  const baseline = await redisFootprint();

  log(`soak: ${FLOWS} single-step flows, ${IN_FLIGHT} at a time`);
  const started = Date.now();
  await runFlows(FLOWS);
  const seconds = (Date.now() - started) / 1000;
  const ended = await redisFootprint();
  log(`all ended in ${seconds.toFixed(0)} s; waiting ${(RETENTION_MS + 15_000) / 1000} s for retention`);
  await settle();
  const after = await redisFootprint();

  const kb = (bytes: number) => (bytes / 1024).toFixed(0).padStart(7);
  const row = (name: string, f: Footprint) =>
    `${name.padEnd(34)} ${String(f.keys).padStart(6)} keys ${kb(f.bytes)} KiB   of them job history ${String(f.jobHistory).padStart(6)}, other keys ${String(f.keys - f.jobHistory).padStart(5)}`;
  console.log(row("baseline (after the warm-up)", baseline));
  console.log(row(`the moment ${FLOWS} flows had ended`, ended));
  console.log(row("after the retention", after));
  const other = (f: Footprint) => f.keys - f.jobHistory;
  console.log(
    `soak_other_keys_after=${other(after)} baseline_other_keys=${other(baseline)} other_keys_ratio=${(other(after) / other(baseline)).toFixed(2)} job_history_after=${after.jobHistory} soak_kib_after=${(after.bytes / 1024).toFixed(0)} baseline_kib=${(baseline.bytes / 1024).toFixed(0)} flows=${FLOWS} flows_per_s=${(FLOWS / seconds).toFixed(0)}`,
  );
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once("exit", r) : r(null)))));
  await engine.close();
  for (let cursor = "0"; ;) {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    if ((cursor = next) === "0") break;
  }
  await redis.quit();
  await sql.end();
  await database.drop();
}
process.exit(0);
