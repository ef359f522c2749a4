// `pnpm bench:load`: the load Ensemble is for — many slow, streaming LLM steps in flight on
// ONE worker process. The cluster runs as separate processes (API, scheduler, worker) on a
// database and queue prefix of its own; the sim provider answers after a latency.
// LOAD_SCALE (default 1) scales every count and rate, e.g. LOAD_SCALE=0.1 on a small machine.
// The processes run as production runs them: `pnpm build` into a temporary folder, then
// `node <role>.mjs`; LOAD_RUN=tsx runs the TypeScript sources through tsx instead.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OrchestrationStepStatus } from "@ensemble/core";
import { createEngine, createFlow, createLogger, executeFlow, type Engine } from "@ensemble/engine";
import { insertThread, insertUser } from "@ensemble/db";
import { createTestDatabase } from "@ensemble/db/testing";
import { EnsembleClient } from "@ensemble/sdk";
import postgres from "postgres";
import { createApiKey, freePort, waitReady } from "./api-process.js";
import { cpuMsByGroup, perFlow, type CpuGroups } from "./cpu-usage.js";
import { closedLoop, percentile } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
const SCALE = Number(process.env.LOAD_SCALE ?? "1");
const scaled = (n: number): number => Math.max(1, Math.round(n * SCALE));
const POOL_SIZE = Number(process.env.BENCH_POOL_SIZE ?? "4");

/** The shapes (issue counts at LOAD_SCALE=1). */
const STEADY = { flows: scaled(10_000), perSecond: 333 * SCALE, latencyMs: 30_000 };
const FANIN = { flows: scaled(500), siblings: 10, latencyMs: 10_000 };
const STREAMING = { flows: scaled(1_000), tokens: 100, tokensPerSecond: 20 };
/** Ramp: in-flight counts tried in turn (10 s latency) until overhead p99 passes RAMP_KNEE_MS. */
const RAMP = { levels: [1_000, 2_000, 4_000, 8_000, 16_000].map(scaled), latencyMs: 10_000 };
const RAMP_KNEE_MS = 1_000;
/** LOAD_SETTLE_MS (default 30 s): how long after the warm-up the idle worker's RSS is read a second time. */
const SETTLE_MS = Math.max(2_000, Number(process.env.LOAD_SETTLE_MS ?? "30000"));
/** LOAD_SHAPES (default all): the shapes to run, e.g. `fanin` or `steady,ramp`. */
const SHAPES = new Set((process.env.LOAD_SHAPES ?? "steady,fanin,streaming,ramp").split(",").map((s) => s.trim()));
const NOT_RUN: ShapeFigures = {
  overheadMs: [],
  endLagMs: [],
  steps: 0,
  failed: 0,
  takeovers: 0,
  ledgerRows: 0,
  rssPeakMb: Number.NaN,
  loopP99Ms: Number.NaN,
  cpuPerStepMs: {},
  inFlight: 0,
};
const AGGREGATE_STEP = "aggregate";
const WORKER_CONCURRENCY = Math.max(...RAMP.levels, STEADY.flows, FANIN.flows * FANIN.siblings) + 100;

const log = (message: string): void => void process.stderr.write(`==> ${message} (load ${loadAverage()})\n`);
/** LOAD_RUN: `built` (default, the image's `node <role>.mjs`) or `tsx` (the sources, as in development). */
const RUN = process.env.LOAD_RUN ?? "built";
if (RUN !== "built" && RUN !== "tsx") throw new Error(`LOAD_RUN must be built or tsx, not ${RUN}`);
const built = RUN === "built" ? mkdtempSync(join(tmpdir(), "bench-load-build-")) : undefined;
if (built) {
  log(`pnpm build --out ${built}`);
  execFileSync("pnpm", ["build", "--out", built], { cwd: REPO_ROOT, stdio: "pipe" });
}
const database = await createTestDatabase();
const prefix = `bench-load-${randomUUID().slice(0, 8)}`;
const probeFile = join(mkdtempSync(join(tmpdir(), "bench-load-")), "worker-probe.json");
const adminToken = `bench-admin-${randomUUID()}`;
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  ...(built ? { NODE_ENV: "production" } : {}),
  DATABASE_URL: database.url,
  QUEUE_PREFIX: prefix,
  LOG_LEVEL: "warn",
  DATABASE_POOL_SIZE: String(POOL_SIZE),
  SCHEDULER_CONCURRENCY: "32",
  WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
};
const node = (
  role: "api" | "scheduler" | "worker",
  extra: Record<string, string>,
  nodeArgs: string[] = [],
): ChildProcess =>
  spawn(
    process.execPath,
    built ? [...nodeArgs, join(built, `${role}.mjs`)] : [...nodeArgs, "--import", "tsx", `apps/${role}/src/main.ts`],
    { cwd: built ?? REPO_ROOT, env: { ...env, ...extra }, stdio: ["ignore", "ignore", "inherit"] },
  );
/** BENCH_<ROLE>_NODE_ARGS: node flags for that process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const nodeArgsFrom = (name: string): string[] => process.env[name]?.split(" ").filter(Boolean) ?? [];
const scheduler = node("scheduler", {}, nodeArgsFrom("BENCH_SCHEDULER_NODE_ARGS"));
// The probe has no type annotations: plain node loads it without tsx.
const worker = node("worker", { BENCH_PROBE_FILE: probeFile }, [
  ...nodeArgsFrom("BENCH_WORKER_NODE_ARGS"),
  "--import",
  resolve(import.meta.dirname, "loop-probe.ts"),
]);
const api = node(
  "api",
  {
    ROLES: "api",
    PORT: String(port),
    ADMIN_TOKEN: adminToken,
    DEV_MODE: "false",
    RATE_LIMIT_REQUESTS: "0",
    MAX_STREAMS_PER_KEY: "0",
    REQUESTS_IN_FLIGHT_PER_KEY: "0",
  },
  nodeArgsFrom("BENCH_API_NODE_ARGS"),
);
const children = { worker, scheduler, api };
const engine: Engine = await createEngine({
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  databaseUrl: database.url,
  queuePrefix: prefix,
  logger: createLogger({ level: "warn", name: "bench-load" }),
  migrate: true,
  databasePoolSize: POOL_SIZE,
});
const sql = postgres(database.url, { max: 2, onnotice: () => undefined });

interface ShapeFigures {
  overheadMs: number[];
  endLagMs: number[];
  steps: number;
  failed: number;
  takeovers: number;
  ledgerRows: number;
  rssPeakMb: number;
  loopP99Ms: number;
  cpuPerStepMs: Record<string, number>;
  inFlight: number;
  tokenLagMs?: number[];
  tokenProblems?: number;
}

try {
  await waitReady(baseUrl, api);
  const { deps } = engine;
  // Flows naming sim are accepted once the worker process has registered it.
  while (!(await deps.providerCatalog.list()).some((p) => p.key === "sim" && p.liveWorkers.length > 0))
    await new Promise((resolve) => setTimeout(resolve, 100));
  const user = await insertUser(deps.db, { name: "bench-load" });
  const thread = await insertThread(deps.db, { ownerId: user.id, title: "bench-load" });
  const execute = (flowId: string): Promise<unknown> =>
    executeFlow(deps, flowId, { executedBy: user.id, input: "load" });
  const createFlows = async (definition: object, count: number): Promise<string[]> => {
    const ids: string[] = [];
    await closedLoop(count, 16, async () => {
      ids.push((await createFlow(deps, { threadId: thread.id, userId: user.id, definition })).id);
    });
    return ids;
  };

  log(`warm-up; WORKER_CONCURRENCY=${WORKER_CONCURRENCY}, LOAD_SCALE=${SCALE}, LOAD_RUN=${RUN}`);
  const warm = await createFlows(singleStep(0), 50);
  await closedLoop(warm.length, 10, (i) => execute(warm[i] as string).then(() => undefined));
  await waitEnded(warm, 60_000);
  await new Promise((r) => setTimeout(r, 2_000));
  const idleRssMb = readProbe().rssMb;
  // Left idle longer, V8's memory reducer gives back the young generation the warm-up grew.
  await new Promise((r) => setTimeout(r, SETTLE_MS - 2_000));
  const settledRssMb = readProbe().rssMb;
  console.log(
    `worker RSS idle ${idleRssMb.toFixed(0)} MB 2 s after a warm-up of ${warm.length} flows, ` +
      `${settledRssMb.toFixed(0)} MB ${SETTLE_MS / 1000} s after (LOAD_RUN=${RUN})`,
  );

  let steady = NOT_RUN;
  if (SHAPES.has("steady")) {
    log(
      `1. steady: ${STEADY.flows} single-step flows, ${STEADY.latencyMs} ms latency, ${STEADY.perSecond.toFixed(1)}/s`,
    );
    const steadyIds = await createFlows(singleStep(STEADY.latencyMs), STEADY.flows);
    steady = await measure(steadyIds, STEADY.latencyMs, Math.round(STEADY.perSecond * (STEADY.latencyMs / 1000)), () =>
      executeAtRate(steadyIds, STEADY.perSecond, execute),
    );
    report("steady", steady, settledRssMb);
  }

  let fanin = NOT_RUN;
  if (SHAPES.has("fanin")) {
    log(`2. fan-in: ${FANIN.flows} flows × ${FANIN.siblings} parallel siblings (${FANIN.latencyMs} ms) + aggregate`);
    const faninIds = await createFlows(fanIn(), FANIN.flows);
    fanin = await measure(faninIds, FANIN.latencyMs, FANIN.flows * FANIN.siblings, () =>
      closedLoop(faninIds.length, 32, (i) => execute(faninIds[i] as string).then(() => undefined)),
    );
    report("fan-in", fanin, settledRssMb);
  }

  let streaming = NOT_RUN;
  if (SHAPES.has("streaming")) {
    log(
      `3. streaming: ${STREAMING.flows} steps, ${STREAMING.tokens} tokens at ${STREAMING.tokensPerSecond}/s, one SSE client each`,
    );
    streaming = await streamingShape();
    report("streaming", streaming, settledRssMb);
  }

  let knee: number | undefined;
  let rampTakeovers = 0;
  if (SHAPES.has("ramp")) {
    log(
      `4. ramp: ${RAMP.levels.join(", ")} single-step flows in flight (${RAMP.latencyMs} ms) until overhead p99 > ${RAMP_KNEE_MS} ms`,
    );
  }
  for (const level of SHAPES.has("ramp") ? RAMP.levels : []) {
    const ids = await createFlows(singleStep(RAMP.latencyMs), level);
    const figures = await measure(ids, RAMP.latencyMs, level, () =>
      closedLoop(ids.length, 32, (i) => execute(ids[i] as string).then(() => undefined)),
    );
    rampTakeovers += figures.takeovers;
    report(`ramp ${level}`, figures, settledRssMb);
    if (percentile(figures.overheadMs, 99) > RAMP_KNEE_MS) break;
    knee = level;
  }
  if (SHAPES.has("ramp")) {
    console.log(
      `ramp knee: ${knee === undefined ? "below the first level" : `${knee} in flight`} (overhead p99 ≤ ${RAMP_KNEE_MS} ms)`,
    );
  }

  const fixed = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : "NaN");
  console.log(
    `inflight_overhead_p99_ms=${fixed(percentile(steady.overheadMs, 99))} ` +
      `fanin_lag_p99_ms=${fixed(percentile(fanin.endLagMs, 99))} ` +
      `worker_rss_mb=${fixed(steady.rssPeakMb)} ` +
      `loop_delay_p99_ms=${fixed(steady.loopP99Ms)} ` +
      `token_to_client_p99_ms=${fixed(percentile(streaming.tokenLagMs ?? [], 99))} ` +
      `takeovers=${steady.takeovers + fanin.takeovers + streaming.takeovers + rampTakeovers}`,
  );
} finally {
  for (const child of Object.values(children)) child.kill("SIGTERM");
  await Promise.all(
    Object.values(children).map((c) =>
      c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve(),
    ),
  );
  await sql.end();
  await engine.close();
  await database.drop();
  if (built) rmSync(built, { recursive: true, force: true });
}
process.exit(0);

function singleStep(latencyMs: number): object {
  return {
    name: "load",
    type: "sequential",
    steps: [
      {
        id: "call",
        provider: "sim",
        model: `echo?latencyMs=${latencyMs}`,
        action: "generate",
        prompt: "{{ original }}",
      },
    ],
  };
}

function fanIn(): object {
  const siblings = Array.from({ length: FANIN.siblings }, (_, i) => ({
    id: `s${i}`,
    provider: "sim",
    model: `echo?latencyMs=${FANIN.latencyMs}`,
    action: "generate",
    prompt: "{{ original }}",
  }));
  return {
    name: "fan-in",
    type: "parallel",
    steps: [
      ...siblings,
      {
        id: AGGREGATE_STEP,
        provider: "sim",
        model: "text?value=done",
        action: "summarize",
        prompt: "all",
        aggregate: true,
      },
    ],
  };
}

/** Runs a shape: resets the worker's probe, starts the flows, waits for their end, reads the figures. */
async function measure(
  ids: string[],
  latencyMs: number,
  inFlight: number,
  start: () => Promise<unknown>,
): Promise<ShapeFigures> {
  worker.kill("SIGUSR2");
  const groups: CpuGroups = {
    worker: [worker.pid ?? 0],
    scheduler: [scheduler.pid ?? 0],
    api: [api.pid ?? 0],
    "bench (client)": [process.pid],
  };
  const cpuBefore = cpuMsByGroup(groups);
  await start();
  await waitEnded(ids, latencyMs * 3 + 120_000);
  const cpuAfter = cpuMsByGroup(groups);
  await new Promise((r) => setTimeout(r, 300));
  const probe = readProbe();
  const stored = await storedFigures(ids, latencyMs);
  return {
    ...stored,
    rssPeakMb: probe.rssPeakMb,
    loopP99Ms: probe.loopP99Ms,
    cpuPerStepMs: perFlow(cpuBefore, cpuAfter, stored.steps),
    inFlight,
  };
}

/** Overheads, end lags, takeovers and ledger rows of these flows, from their stored timestamps. */
async function storedFigures(
  ids: string[],
  latencyMs: number,
): Promise<Pick<ShapeFigures, "overheadMs" | "endLagMs" | "steps" | "failed" | "takeovers" | "ledgerRows">> {
  // A step's overhead: from its run's execute (queued_at) to its commit, less the simulated latency.
  const steps = await sql<{ overhead: number; status: string; takeovers: number }[]>`
    select extract(epoch from s.completed_at - f.queued_at) * 1000 - ${latencyMs}::float8 as overhead,
      s.status, greatest(s.lease_token - 1, 0) as takeovers
    from flows f join step_results s on s.flow_id = f.id and s.run = f.run
    where f.id = any(${ids}) and s.step_id <> ${AGGREGATE_STEP}`;
  // A run's end after its last sibling (the aggregate step runs in between).
  const lags = await sql<{ lag: number }[]>`
    select extract(epoch from f.completed_at - max(s.completed_at)) * 1000 as lag
    from flows f join step_results s on s.flow_id = f.id and s.run = f.run
    where f.id = any(${ids}) and s.step_id <> ${AGGREGATE_STEP}
    group by f.id, f.completed_at`;
  const [ledger] = await sql<{ n: number }[]>`
    select count(*)::int as n from usage_ledger l join step_results s on s.id = l.step_result_id
    where l.flow_id = any(${ids}) and s.step_id <> ${AGGREGATE_STEP}`;
  return {
    overheadMs: steps.map((r) => Number(r.overhead)),
    endLagMs: lags.map((r) => Number(r.lag)),
    steps: steps.length,
    failed: steps.filter((r) => r.status !== OrchestrationStepStatus.SUCCESS).length,
    takeovers: steps.reduce((sum, r) => sum + Number(r.takeovers), 0),
    ledgerRows: ledger?.n ?? 0,
  };
}

async function waitEnded(ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ open: number }[]>`
      select count(*)::int as open from flows where id = any(${ids}) and completed_at is null`;
    if ((row?.open ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`${row?.open} flows still open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Executes the flows at `perSecond` (open loop: a slow execute does not slow the schedule). */
async function executeAtRate(
  ids: string[],
  perSecond: number,
  execute: (id: string) => Promise<unknown>,
): Promise<void> {
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  let next = 0;
  while (next < ids.length) {
    const due = Math.min(ids.length, Math.floor(((performance.now() - started) / 1000) * perSecond) + 1);
    while (next < due) pending.push(execute(ids[next++] as string));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
}

/** Shape 3 over HTTP: each flow executed by its own SDK client following its SSE stream. */
async function streamingShape(): Promise<ShapeFigures> {
  const client = new EnsembleClient({ baseUrl, apiKey: await createApiKey(baseUrl, adminToken, "bench-load-sse") });
  const thread = await client.createThread("bench-load-sse");
  const definition = {
    name: "stream",
    type: "sequential" as const,
    steps: [
      {
        id: "call",
        provider: "sim",
        model: `clock?tokens=${STREAMING.tokens}&tokensPerSecond=${STREAMING.tokensPerSecond}`,
        action: "generate" as const,
        prompt: "{{ original }}",
      },
    ],
  };
  const ids: string[] = [];
  await closedLoop(STREAMING.flows, 16, async () => {
    ids.push((await client.createFlow(thread.id, definition)).id);
  });
  const tokenLagMs: number[] = [];
  let tokenProblems = 0;
  // The stream itself is the step's simulated time.
  const streamMs = (STREAMING.tokens / STREAMING.tokensPerSecond) * 1000;
  const figures = await measure(ids, streamMs, STREAMING.flows, () =>
    Promise.all(
      ids.map(async (flowId) => {
        let text = "";
        await client.executeFlow(flowId, {
          input: "stream",
          onUpdate: (update) => {
            if (update.type !== "step_progress") return;
            const parsedAt = Date.now();
            const delta = (update.data as { delta: string }).delta;
            for (const stamp of delta.trim().split(" ")) tokenLagMs.push(parsedAt - Number(stamp));
            text += delta;
          },
        });
        const stamps = text.trim().split(" ").map(Number);
        const inOrder = stamps.every((s, i) => i === 0 || s >= (stamps[i - 1] as number));
        if (stamps.length !== STREAMING.tokens || !inOrder) tokenProblems += 1;
      }),
    ),
  );
  return { ...figures, tokenLagMs, tokenProblems };
}

function readProbe(): { loopP99Ms: number; rssMb: number; rssPeakMb: number } {
  try {
    return JSON.parse(readFileSync(probeFile, "utf8")) as { loopP99Ms: number; rssMb: number; rssPeakMb: number };
  } catch {
    return { loopP99Ms: Number.NaN, rssMb: Number.NaN, rssPeakMb: Number.NaN };
  }
}

function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

function report(name: string, f: ShapeFigures, settledIdleMb: number): void {
  const ms = (samples: number[], p: number): string => `${percentile(samples, p).toFixed(0)} ms`;
  const lines = [
    `${name}: ${f.steps} steps (${f.failed} not completed), ${f.inFlight} in flight`,
    `  overhead over latency   p50 ${ms(f.overheadMs, 50)}   p99 ${ms(f.overheadMs, 99)}`,
    `  run end after its last step   p50 ${ms(f.endLagMs, 50)}   p99 ${ms(f.endLagMs, 99)}`,
    // Per step over the settled idle figure: the young generation a load grows is the load's.
    `  worker RSS   idle (settled) ${settledIdleMb.toFixed(0)} MB   peak ${f.rssPeakMb.toFixed(0)} MB   per in-flight step ${(((f.rssPeakMb - settledIdleMb) * 1024) / f.inFlight).toFixed(1)} KB`,
    `  worker event-loop delay p99 ${f.loopP99Ms.toFixed(1)} ms`,
    `  lease takeovers ${f.takeovers} (each a duplicate provider call)   ledger rows ${f.ledgerRows} for ${f.steps} steps`,
    ...(f.tokenLagMs
      ? [
          `  token → SSE client   p50 ${ms(f.tokenLagMs, 50)}   p99 ${ms(f.tokenLagMs, 99)}   streams lost/reordered ${f.tokenProblems ?? 0}`,
        ]
      : []),
    `  CPU per step: ${Object.entries(f.cpuPerStepMs)
      .sort((a, b) => b[1] - a[1])
      .map(([group, v]) => `${group} ${v.toFixed(2)} ms`)
      .join(", ")}`,
  ];
  console.log(lines.join("\n"));
}
