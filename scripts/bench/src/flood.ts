// `pnpm bench:flood`: what one API key flooding the API past its rate limit does to
// another key's latency. One API process (ROLES=api) on its own database and queue
// prefix; the quiet key's latency is measured alone (baseline) and during the flood, in
// the same run. The flood is bounded in time and count, on 127.0.0.1 only.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createTestDatabase } from "@ensemble/db/testing";
import { createApiKey, freePort, waitReady } from "./api-process.js";
import { percentile } from "./stats.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;
/** The per-key limit, as an operator might set it (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_MS). */
const LIMIT = Number(process.env.FLOOD_RATE_LIMIT ?? "100");
const WINDOW_MS = 1_000;
/** The quiet key: one request at a time, one every QUIET_EVERY_MS (well under its limit), QUIET_REQUESTS per phase. */
const QUIET_REQUESTS = Number(process.env.FLOOD_QUIET_REQUESTS ?? "1000");
/** No phase runs longer than this, however slow the answers. */
const PHASE_MAX_MS = 30_000;
const QUIET_EVERY_MS = 20;
/** The flooder: this many requests in flight, until the quiet phase ends or FLOOD_MAX_REQUESTS. */
const FLOOD_LANES = Number(process.env.FLOOD_LANES ?? "32");
const FLOOD_MAX_REQUESTS = 200_000;

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);
const database = await createTestDatabase();
const prefix = `bench-flood-${randomUUID().slice(0, 8)}`;
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
/** FLOOD_PIN=1: the flooder on one core, the API on the other (as an attacker's CPU is not the API's host's). */
const PIN = process.env.FLOOD_PIN === "1";
const pinned = (core: number, args: string[]): [string, string[]] =>
  PIN ? ["taskset", ["-c", String(core), process.execPath, ...args]] : [process.execPath, args];
const api = spawn(...pinned(0, ["--import", "tsx", "apps/api/src/main.ts"]), {
  cwd: REPO_ROOT,
  env: {
    ...process.env,
    ROLES: "api",
    PORT: String(port),
    DATABASE_URL: database.url,
    QUEUE_PREFIX: prefix,
    ADMIN_TOKEN,
    DEV_MODE: "false",
    LOG_LEVEL: "warn",
    RATE_LIMIT_REQUESTS: String(LIMIT),
    RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
  },
  stdio: ["ignore", "ignore", "inherit"],
});
try {
  await waitReady(baseUrl, api);
  const [flooder, quiet] = [
    await createApiKey(baseUrl, ADMIN_TOKEN, "flooder"),
    await createApiKey(baseUrl, ADMIN_TOKEN, "quiet"),
  ];
  const call = async (key: string): Promise<{ status: number; ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${baseUrl}/v1/policies`, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - started };
  };
  const quietPhase = async (): Promise<number[]> => {
    const latencies: number[] = [];
    const deadline = Date.now() + PHASE_MAX_MS;
    for (let i = 0; i < QUIET_REQUESTS && Date.now() < deadline; i += 1) {
      const { status, ms } = await call(quiet);
      if (status !== 200) throw new Error(`the quiet key got ${status}`);
      latencies.push(ms);
      await new Promise((r) => setTimeout(r, QUIET_EVERY_MS));
    }
    return latencies;
  };

  log(`baseline: ${QUIET_REQUESTS} requests of the quiet key alone`);
  await quietPhase(); // warm-up: connections, plans, JIT
  const baseline = await quietPhase();

  log(
    `flood: ${FLOOD_LANES} requests in flight on another key (limit ${LIMIT}/${WINDOW_MS} ms) while the quiet key repeats`,
  );
  // The flooder is a process of its own: in this one, handling its answers would delay
  // the quiet key's client and be measured as the API's latency.
  const flood = spawn(...pinned(1, ["--import", "tsx", resolve(import.meta.dirname, "flooder.ts")]), {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      FLOOD_URL: `${baseUrl}/v1/policies`,
      FLOOD_KEY: flooder,
      FLOOD_LANES: String(FLOOD_LANES),
      FLOOD_MAX_REQUESTS: String(FLOOD_MAX_REQUESTS),
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let report = "";
  flood.stdout.on("data", (chunk: Buffer) => (report += chunk.toString()));
  const started = new Promise<void>((r) => flood.stdout.once("data", () => r()));
  await started; // its first line: flooding has begun
  const during = await quietPhase();
  flood.stdin.end(); // stop
  await new Promise((r) => flood.once("exit", r));
  const {
    sent,
    seconds: floodSeconds,
    statuses,
  } = JSON.parse(report.trim().split("\n").at(-1) as string) as {
    sent: number;
    seconds: number;
    statuses: Record<string, number>;
  };

  const row = (name: string, samples: number[]): string =>
    `${name.padEnd(22)} p50 ${percentile(samples, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(samples, 99).toFixed(2).padStart(7)} ms`;
  console.log(row("quiet key, alone", baseline), `(${baseline.length} requests)`);
  console.log(row("quiet key, in flood", during), `(${during.length} requests)`);
  console.log(
    `flooder: ${sent} requests in ${floodSeconds.toFixed(1)} s (${(sent / floodSeconds).toFixed(0)}/s), statuses ${JSON.stringify(statuses)}`,
  );
  const floodP99 = percentile(during, 99);
  const baselineP99 = percentile(baseline, 99);
  console.log(
    `flood_quiet_p99_ms=${floodP99.toFixed(2)} baseline_p99_ms=${baselineP99.toFixed(2)} ratio=${(floodP99 / baselineP99).toFixed(2)} flood_quiet_p50_ms=${percentile(during, 50).toFixed(2)} baseline_p50_ms=${percentile(baseline, 50).toFixed(2)} flood_rps=${(sent / floodSeconds).toFixed(0)}`,
  );
} finally {
  api.kill("SIGTERM");
  await new Promise((r) => api.once("exit", r));
  await database.drop();
}
process.exit(0);
