// `pnpm bench:fair`: one user floods the steps queue, then another submits one flow: how
// soon does the newcomer's first step start? A scheduler and one worker run as separate
// processes on a database of their own; user A's FAIR_STEPS slow sim steps (parallel flows
// of 50) are queued first, then user B executes a one-step flow, FAIR_TRIES times, and B's
// step's start is read from Postgres. The same is measured with fair sharing off
// (FAIR_SHARE=false: every user's steps at equal rank, FIFO) as the baseline, in the same run.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createEngine, createFlow, createLogger, executeFlow, type Engine } from "@ensemble/engine";
import { findFlow, insertThread, insertUser, listFlowsByStatus, listRunSteps } from "@ensemble/db";
import { createTestDatabase } from "@ensemble/db/testing";
import { closedLoop, percentile } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/** User A's backlog of slow steps. */
const STEPS = Number(process.env.FAIR_STEPS ?? "5000");
/**
 * How long A's steps call their (sim) model on average: from half of it to one and a half
 * times it, varied as LLM calls are. (Equal latencies would keep A's first wave of steps
 * ending together, so that a newcomer waits up to a whole call for a slot.)
 */
const LATENCY_MS = Number(process.env.FAIR_LATENCY_MS ?? "1000");
/** The worker's slots (WORKER_CONCURRENCY). */
const SLOTS = Number(process.env.FAIR_SLOTS ?? "50");
/** B's flows with fair sharing; each baseline try drains A's whole backlog first (STEPS × LATENCY_MS / SLOTS), so it has fewer. */
const TRIES = Number(process.env.FAIR_TRIES ?? "20");
const BASELINE_TRIES = Number(process.env.FAIR_BASELINE_TRIES ?? "3");
const FLOW_STEPS = 50;

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);
const database = await createTestDatabase();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const parallel = (steps: number, model: (i: number) => string) => ({
  name: "fair",
  type: "parallel",
  steps: Array.from({ length: steps }, (_, i) => ({
    id: `s${i}`,
    provider: "sim",
    model: model(i),
    action: "generate",
    prompt: "{{ original }}",
  })),
});
const slowModel = (i: number): string =>
  `slow?latencyMs=${Math.round(LATENCY_MS * (0.5 + (i % FLOW_STEPS) / (FLOW_STEPS - 1)))}`;

interface Phase {
  /** B's first-step start after its execute call, per try (ms). */
  startsMs: number[];
  /** A's steps still queued when B executed, fewest over the tries. */
  backlogLeft: number;
}

/** One phase on its own queue prefix: a scheduler and a worker with FAIR_SHARE as given. */
async function measure(fairShare: boolean, tries: number): Promise<Phase> {
  const prefix = `bench-fair-${randomUUID().slice(0, 8)}`;
  const env = {
    ...process.env,
    DATABASE_URL: database.url,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: "warn",
    DATABASE_POOL_SIZE: "4",
    WORKER_CONCURRENCY: String(SLOTS),
    FAIR_SHARE: String(fairShare),
  };
  const node = (script: string): ChildProcess =>
    spawn(process.execPath, ["--import", "tsx", script], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "ignore", "inherit"],
    });
  const children = [node("apps/scheduler/src/main.ts"), node("apps/worker/src/main.ts")];
  const engine: Engine = await createEngine({
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    databaseUrl: database.url,
    queuePrefix: prefix,
    logger: createLogger({ level: "warn", name: "bench-fair" }),
    migrate: true,
    databasePoolSize: 4,
  });
  try {
    const { deps } = engine;
    while (!(await deps.providerCatalog.list()).some((p) => p.key === "sim" && p.liveWorkers.length > 0))
      await sleep(100);
    const [a, b] = [await insertUser(deps.db, { name: "flooder" }), await insertUser(deps.db, { name: "newcomer" })];
    const threadOf = async (userId: string) => (await insertThread(deps.db, { ownerId: userId, title: "fair" })).id;
    const [threadA, threadB] = [await threadOf(a.id), await threadOf(b.id)];
    const queued = async (): Promise<number> => (await deps.producer.queueDepths(["sim"]))["steps-sim"]?.waiting ?? 0;
    const flowB = (await createFlow(deps, { threadId: threadB, userId: b.id, definition: parallel(1, () => "echo") }))
      .id;
    const runB = async (): Promise<number> => {
      const executedAt = Date.now();
      const { run } = await executeFlow(deps, flowB, { executedBy: b.id, input: "me too" });
      while ((await findFlow(deps.db, flowB))?.status !== "completed") await sleep(20);
      const [step] = await listRunSteps(deps.db, flowB, run);
      return (step?.startedAt?.getTime() ?? Number.NaN) - executedAt;
    };
    await runB(); // warm-up: compile, connections
    const flood = async (): Promise<void> => {
      const flows = Math.ceil(STEPS / FLOW_STEPS);
      const definition = parallel(FLOW_STEPS, slowModel);
      await closedLoop(flows, 8, async () => {
        const { id } = await createFlow(deps, { threadId: threadA, userId: a.id, definition });
        await executeFlow(deps, id, { executedBy: a.id, input: "flood" });
      });
      // Every run started: its steps are in the queue (the first of them already running).
      while ((await listFlowsByStatus(deps.db, ["queued"], 1)).length > 0) await sleep(100);
    };
    const phase: Phase = { startsMs: [], backlogLeft: Number.POSITIVE_INFINITY };
    if (fairShare) {
      log(`fair sharing: A queues ${STEPS} steps of ${LATENCY_MS} ms on ${SLOTS} slots, then B runs ${tries} flows`);
      await flood();
    }
    for (let i = 0; i < tries; i += 1) {
      if (!fairShare) {
        log(`baseline (FAIR_SHARE=false) try ${i + 1}/${tries}: A queues ${STEPS} steps, B waits behind them`);
        await flood();
      }
      phase.backlogLeft = Math.min(phase.backlogLeft, await queued());
      phase.startsMs.push(await runB());
      if (!fairShare) while ((await queued()) > 0) await sleep(200);
    }
    return phase;
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once("exit", r) : r(null)))));
    await engine.close();
  }
}

try {
  const fair = await measure(true, TRIES);
  const baseline = await measure(false, BASELINE_TRIES);
  const row = (name: string, p: Phase): string =>
    `${name.padEnd(40)} B's first step starts p50 ${percentile(p.startsMs, 50).toFixed(0).padStart(7)} ms   p99 ${percentile(p.startsMs, 99).toFixed(0).padStart(7)} ms   (${p.startsMs.length} tries, A's backlog ≥ ${p.backlogLeft} steps)`;
  console.log(row("fair sharing (per-user rank)", fair));
  console.log(row("baseline (FAIR_SHARE=false, equal rank)", baseline));
  const fairP99 = percentile(fair.startsMs, 99);
  const baselineP99 = percentile(baseline.startsMs, 99);
  console.log(
    `fair_b_start_p99_ms=${fairP99.toFixed(0)} baseline_p99_ms=${baselineP99.toFixed(0)} ratio=${(fairP99 / baselineP99).toFixed(4)} fair_b_start_p50_ms=${percentile(fair.startsMs, 50).toFixed(0)} baseline_p50_ms=${percentile(baseline.startsMs, 50).toFixed(0)} steps=${STEPS} slots=${SLOTS} latency_ms=${LATENCY_MS}`,
  );
} finally {
  await database.drop();
}
process.exit(0);
