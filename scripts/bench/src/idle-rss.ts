// `pnpm bench:rss`: the idle memory (RSS) of each process role run as in development (TypeScript
// through tsx) and as in production (`node dist/<role>.mjs`, from `pnpm build`), in the same run.
// Each process starts alone, waits until it says it started, idles, and its RSS is read from /proc.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { createTestDatabase } from "@ensemble/db/testing";

const ROOT = resolve(import.meta.dirname, "../../..");
// Long enough for V8 to give back the heap it grew while starting (its memory reducer).
const IDLE_MS = Number(process.env.RSS_IDLE_MS ?? "20000");
const SAMPLES = Number(process.env.RSS_SAMPLES ?? "2");

type Role = "api" | "scheduler" | "worker" | "all";
/** Role → source entry, built file, environment, and the log line that says it is up. */
const ROLES: Record<Role, { source: string; built: string; env: Record<string, string>; ready: string }> = {
  api: { source: "apps/api/src/main.ts", built: "dist/api.mjs", env: {}, ready: '"msg":"listening"' },
  scheduler: { source: "apps/scheduler/src/main.ts", built: "dist/scheduler.mjs", env: {}, ready: "scheduler started" },
  worker: { source: "apps/worker/src/main.ts", built: "dist/worker.mjs", env: {}, ready: "step worker started" },
  all: { source: "apps/api/src/main.ts", built: "dist/api.mjs", env: { ROLES: "all" }, ready: '"msg":"listening"' },
};

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);

if (!existsSync(resolve(ROOT, "dist/api.mjs"))) {
  console.error("dist/ is not built: run `pnpm build` first");
  process.exit(1);
}

/** Starts one process, waits for its ready line and IDLE_MS more, and returns its RSS in MiB. */
async function idleRss(args: string[], env: Record<string, string>, ready: string): Promise<number> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  try {
    await new Promise<void>((done, fail) => {
      // Generous: on a loaded machine tsx alone can take a minute to start.
      const timer = setTimeout(
        () => fail(new Error(`not started within 180 s: ${args.join(" ")}\n${output}`)),
        180_000,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes(ready)) {
          clearTimeout(timer);
          done();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code) => fail(new Error(`exited ${code}: ${args.join(" ")}\n${output}`)));
    });
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kib / 1024;
  } finally {
    child.kill("SIGTERM");
    await new Promise((done) => (child.exitCode === null ? child.once("exit", done) : done(null)));
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

const database = await createTestDatabase();
const rows: { role: Role; tsx: number; dist: number }[] = [];
try {
  for (const role of Object.keys(ROLES) as Role[]) {
    const spec = ROLES[role];
    const tsx: number[] = [];
    const dist: number[] = [];
    // Alternating, so a change in the machine's load falls on both alike.
    for (let i = 0; i < SAMPLES; i += 1) {
      const env = {
        ...spec.env,
        DATABASE_URL: database.url,
        QUEUE_PREFIX: `rss-${randomUUID().slice(0, 8)}`,
        PORT: "0",
        LOG_LEVEL: "info",
      };
      tsx.push(await idleRss(["--import", "tsx", spec.source], env, spec.ready));
      dist.push(await idleRss([spec.built], env, spec.ready));
      log(`${role} #${i + 1}: tsx ${tsx.at(-1)?.toFixed(0)} MiB, dist ${dist.at(-1)?.toFixed(0)} MiB`);
    }
    rows.push({ role, tsx: median(tsx), dist: median(dist) });
  }
} finally {
  await database.drop();
}

const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`idle RSS, MiB (median of ${SAMPLES}, ${IDLE_MS} ms after start; Node ${process.version}; load ${load})`);
console.log("role       tsx   dist  dist/tsx");
for (const row of rows) {
  console.log(
    `${row.role.padEnd(9)} ${row.tsx.toFixed(0).padStart(5)} ${row.dist.toFixed(0).padStart(6)}  ${(row.dist / row.tsx).toFixed(2)}`,
  );
}
const total = (key: "tsx" | "dist"): number => rows.reduce((sum, row) => sum + row[key], 0);
console.log(
  rows.map((row) => `${row.role}_dist_vs_tsx=${(row.dist / row.tsx).toFixed(2)}`).join(" ") +
    ` total_dist_vs_tsx=${(total("dist") / total("tsx")).toFixed(2)}`,
);
process.exit(0);
