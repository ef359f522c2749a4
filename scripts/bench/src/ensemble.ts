import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createEngine, createFlow, createLogger, executeFlow, type Engine } from "@ensemble/engine";
import { findFlow, insertThread, insertUser, listRunSteps } from "@ensemble/db";
import { followEvents } from "@ensemble/queue";
import { closedLoop, percentile, type RunFigures } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");

export interface EnsembleOptions {
  redisUrl: string;
  databaseUrl: string;
  serialFlows: number;
  concurrentFlows: number;
  workerConcurrency: number;
}

const DEFINITION = {
  name: "bench",
  type: "sequential",
  contextPolicy: { includeOriginalPrompt: false },
  steps: ["one", "two", "three"].map((id) => ({ id, provider: "sim", model: "echo", action: "generate", prompt: "{{ previous }}" })),
};

/** 3-step sequential flows on the zero-latency sim provider through a real scheduler and worker process. */
export async function benchEnsemble(options: EnsembleOptions): Promise<RunFigures> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const env = { ...process.env, DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl, QUEUE_PREFIX: prefix, LOG_LEVEL: "warn", WORKER_CONCURRENCY: String(options.workerConcurrency), SCHEDULER_CONCURRENCY: "32", DATABASE_POOL_SIZE: "20" };
  const children: ChildProcess[] = [
    spawn(process.execPath, ["--import", "tsx", "apps/scheduler/src/main.ts"], { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] }),
    spawn(process.execPath, [...(process.env.BENCH_WORKER_NODE_ARGS?.split(" ") ?? []), "--import", "tsx", "apps/worker/src/main.ts"], { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] }),
  ];
  const engine: Engine = await createEngine({ redisUrl: options.redisUrl, databaseUrl: options.databaseUrl, queuePrefix: prefix, logger: createLogger({ level: "warn", name: "bench" }), migrate: true, databasePoolSize: 20 });
  try {
    const { deps } = engine;
    const user = await insertUser(deps.db, { name: "bench" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "bench" });
    const serialIds: string[] = [];

    const notifiedAt = new Map<string, number>();
    const runFlow = async (record: boolean): Promise<void> => {
      const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition: DEFINITION });
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((r) => (resolveDone = r));
      const stop = await followEvents(deps.bus, flow.id, 0, (event) => {
        if (event.type === "flow_complete" || event.type === "flow_failed") resolveDone();
      });
      await executeFlow(deps, flow.id, { input: "benchmark input" });
      await done;
      notifiedAt.set(flow.id, Date.now());
      await stop();
      if (record) serialIds.push(flow.id);
    };

    await waitForWorkers(runFlow);
    const serialPerSecond = await closedLoop(options.serialFlows, 1, () => runFlow(true));
    const concurrentPerSecond = await closedLoop(options.concurrentFlows, 100, () => runFlow(false));

    const hopsMs: number[] = [];
    const phases: Record<string, number[]> = { "queued→running": [], "running→step 1": [], "last step→flow done": [], "flow done→client told": [] };
    for (const id of serialIds) {
      const rows = (await listRunSteps(deps.db, id, 1)).sort((a, b) => a.stepIndex - b.stepIndex);
      const flow = await findFlow(deps.db, id);
      const ms = (d: Date | null | undefined): number => d?.getTime() ?? Number.NaN;
      phases["queued→running"]?.push(ms(flow?.startedAt) - ms(flow?.queuedAt));
      phases["running→step 1"]?.push(ms(rows[0]?.startedAt) - ms(flow?.startedAt));
      phases["last step→flow done"]?.push(ms(flow?.completedAt) - ms(rows[rows.length - 1]?.completedAt));
      phases["flow done→client told"]?.push((notifiedAt.get(id) ?? Number.NaN) - ms(flow?.completedAt));
      for (let i = 1; i < rows.length; i += 1) {
        const done = rows[i - 1]?.completedAt?.getTime();
        const next = rows[i]?.startedAt?.getTime();
        if (done !== undefined && next !== undefined) hopsMs.push(next - done);
      }
    }
    for (const [phase, values] of Object.entries(phases)) {
      process.stderr.write(`    ${phase.padEnd(24)} p50 ${percentile(values, 50).toFixed(1)} ms\n`);
    }
    return { name: "Ensemble (3-step flow, persisted)", hopsMs, serialPerSecond, concurrentPerSecond };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await engine.close();
  }
}

/** The first flows warm up both processes (module load, connections, JIT). */
async function waitForWorkers(runFlow: (record: boolean) => Promise<void>): Promise<void> {
  await runFlow(false);
  await closedLoop(50, 10, () => runFlow(false));
}
