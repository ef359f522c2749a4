import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createEngine, createFlow, createLogger, executeFlow, type Engine } from "@ensemble/engine";
import { insertThread, insertUser } from "@ensemble/db";
import { followEvents } from "@ensemble/queue";
import postgres from "postgres";
import { cpuMsByGroup, perFlow, type CpuGroups } from "./cpu-usage.js";
import { closedLoop, percentile, type RunFigures } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/**
 * Connections per pool in each process (DATABASE_POOL_SIZE; BENCH_POOL_SIZE overrides).
 * Few: postgres.js then pipelines statements on busy connections, and a Postgres backend
 * wakeup — most of Postgres' CPU here — serves several of them (measured on 2 cores,
 * 100 in flight: 20 → 4 took Postgres from 13 to 8.5 ms of CPU per flow; 2 starved the worker).
 */
const POOL_SIZE = Number(process.env.BENCH_POOL_SIZE ?? "4");

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
  steps: ["one", "two", "three"].map((id) => ({
    id,
    provider: "sim",
    model: "echo",
    action: "generate",
    prompt: "{{ previous }}",
  })),
};

/** 3-step sequential flows on the zero-latency sim provider through a real scheduler and worker process. */
export async function benchEnsemble(options: EnsembleOptions): Promise<RunFigures> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const env = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: "warn",
    WORKER_CONCURRENCY: String(options.workerConcurrency),
    SCHEDULER_CONCURRENCY: "32",
    DATABASE_POOL_SIZE: String(POOL_SIZE),
  };
  const children: ChildProcess[] = [
    spawn(
      process.execPath,
      [...(process.env.BENCH_SCHEDULER_NODE_ARGS?.split(" ") ?? []), "--import", "tsx", "apps/scheduler/src/main.ts"],
      { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] },
    ),
    spawn(
      process.execPath,
      [...(process.env.BENCH_WORKER_NODE_ARGS?.split(" ") ?? []), "--import", "tsx", "apps/worker/src/main.ts"],
      { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] },
    ),
  ];
  const engine: Engine = await createEngine({
    redisUrl: options.redisUrl,
    databaseUrl: options.databaseUrl,
    queuePrefix: prefix,
    logger: createLogger({ level: "warn", name: "bench" }),
    migrate: true,
    databasePoolSize: POOL_SIZE,
  });
  try {
    const { deps } = engine;
    // Flows naming sim are accepted once the worker process has registered it.
    while (!(await deps.providerCatalog.list()).some((p) => p.key === "sim" && p.liveWorkers.length > 0))
      await new Promise((resolve) => setTimeout(resolve, 100));
    const user = await insertUser(deps.db, { name: "bench" });
    const thread = await insertThread(deps.db, { ownerId: user.id, title: "bench" });
    const serialIds: string[] = [];
    const concurrentIds: string[] = [];

    const client = new Map<string, ClientTimes>();
    const runFlow = async (record: "serial" | "concurrent" | false): Promise<void> => {
      const began = wallClockMs();
      const flow = await createFlow(deps, { threadId: thread.id, userId: user.id, definition: DEFINITION });
      const created = wallClockMs();
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((r) => (resolveDone = r));
      const stop = await followEvents(deps.bus, flow.id, 0, (event) => {
        if (event.type === "flow_complete" || event.type === "flow_failed") resolveDone();
      });
      const followed = wallClockMs();
      await executeFlow(deps, flow.id, { executedBy: user.id, input: "benchmark input" });
      const executed = wallClockMs();
      await done;
      client.set(flow.id, { began, created, followed, executed, told: wallClockMs() });
      await stop();
      if (record === "serial") serialIds.push(flow.id);
      if (record === "concurrent") concurrentIds.push(flow.id);
    };

    await waitForWorkers(runFlow);
    const serialPerSecond = await closedLoop(options.serialFlows, 1, () => runFlow("serial"));
    process.stderr.write(
      `    ${options.serialFlows} flows one at a time done; ${options.concurrentFlows} with 100 in flight…\n`,
    );
    const processes: CpuGroups = {
      worker: [children[1]?.pid ?? 0],
      scheduler: [children[0]?.pid ?? 0],
      "bench (client)": [process.pid],
    };
    const cpuBefore = cpuMsByGroup(processes);
    const concurrentPerSecond = await closedLoop(options.concurrentFlows, 100, () => runFlow("concurrent"));
    const cpu = perFlow(cpuBefore, cpuMsByGroup(processes), options.concurrentFlows);
    process.stderr.write("    done\n");

    const serial = await whereTimeGoes(options.databaseUrl, serialIds, client);
    printPhases("serial", serial.phases);
    printPhases("100 in flight", (await whereTimeGoes(options.databaseUrl, concurrentIds, client)).phases);
    printCpu(cpu);
    const hopsMs = serial.hopsMs;
    return { name: "Ensemble (3-step flow, persisted)", hopsMs, serialPerSecond, concurrentPerSecond };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await engine.close();
  }
}

/** The first flows warm up both processes (module load, connections, JIT). */
async function waitForWorkers(runFlow: (record: false) => Promise<void>): Promise<void> {
  await runFlow(false);
  await closedLoop(50, 10, () => runFlow(false));
}

/** Epoch ms with sub-ms precision, comparable with the database's timestamps on this machine. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

interface ClientTimes {
  began: number;
  created: number;
  followed: number;
  executed: number;
  told: number;
}

/** Where a flow's time went, from the client's clock and the stored timestamps (read at µs precision); and its step-to-step hops. */
async function whereTimeGoes(
  databaseUrl: string,
  ids: readonly string[],
  client: ReadonlyMap<string, ClientTimes>,
): Promise<{ phases: Record<string, number[]>; hopsMs: number[] }> {
  const hopsMs: number[] = [];
  const phases: Record<string, number[]> = {
    "create (client)": [],
    "subscribe (client)": [],
    "execute call (client)": [],
    "queued→running": [],
    "running→step 1": [],
    "step started→committed": [],
    "step→next step": [],
    "last step→flow done": [],
    "flow done→client told": [],
    "whole flow (client)": [],
  };
  const add = (phase: string, value: number): void => void phases[phase]?.push(value);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<
      { id: string; queued: string; started: string; completed: string; steps: { s: number; c: number }[] }[]
    >`
      select f.id,
        extract(epoch from f.queued_at) * 1000 as queued,
        extract(epoch from f.started_at) * 1000 as started,
        extract(epoch from f.completed_at) * 1000 as completed,
        (select json_agg(json_build_object('s', extract(epoch from s.started_at) * 1000, 'c', extract(epoch from s.completed_at) * 1000) order by s.step_index)
           from step_results s where s.flow_id = f.id and s.run = 1) as steps
      from flows f where f.id = any(${ids as string[]})`;
    for (const flow of rows) {
      const [queued, started, completed] = [flow.queued, flow.started, flow.completed].map(Number) as [
        number,
        number,
        number,
      ];
      const steps = flow.steps ?? [];
      const c = client.get(flow.id);
      if (c) {
        add("create (client)", c.created - c.began);
        add("subscribe (client)", c.followed - c.created);
        add("execute call (client)", c.executed - c.followed);
        add("flow done→client told", c.told - completed);
        add("whole flow (client)", c.told - c.began);
      }
      add("queued→running", started - queued);
      add("running→step 1", (steps[0]?.s ?? Number.NaN) - started);
      add("last step→flow done", completed - (steps[steps.length - 1]?.c ?? Number.NaN));
      for (const step of steps) add("step started→committed", step.c - step.s);
      for (let i = 1; i < steps.length; i += 1) {
        const hop = (steps[i]?.s ?? Number.NaN) - (steps[i - 1]?.c ?? Number.NaN);
        add("step→next step", hop);
        if (!Number.isNaN(hop)) hopsMs.push(hop);
      }
    }
  } finally {
    await sql.end();
  }
  return { phases, hopsMs };
}

function printCpu(perFlowMs: Record<string, number>): void {
  const total = Object.values(perFlowMs).reduce((a, b) => a + b, 0);
  process.stderr.write(`    CPU per flow with 100 in flight (from /proc): ${total.toFixed(1)} ms\n`);
  for (const [name, ms] of Object.entries(perFlowMs).sort((a, b) => b[1] - a[1])) {
    process.stderr.write(`      ${name.padEnd(24)} ${ms.toFixed(2).padStart(7)} ms\n`);
  }
}

function printPhases(label: string, phases: Record<string, number[]>): void {
  process.stderr.write(`    where a flow's time goes (${label}):\n`);
  for (const [phase, values] of Object.entries(phases)) {
    process.stderr.write(
      `      ${phase.padEnd(24)} p50 ${percentile(values, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(values, 99).toFixed(1).padStart(7)} ms\n`,
    );
  }
}
