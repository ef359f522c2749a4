import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { listProviderCatalog } from "@ensemble/db";
import { createTestDatabase, type TestDatabase } from "@ensemble/db/testing";
import { createRedisConnection } from "@ensemble/queue";

export const REPO_ROOT = resolve(__dirname, "../../..");
const LOG_DIR = join(REPO_ROOT, ".turbo", "cluster-logs");
export const DEV_KEY = "ens_test_cluster_key_0123456789";

export type Role = "api" | "scheduler" | "worker" | "all";

export interface ClusterProcess {
  role: Role;
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export interface ClusterOptions {
  workers?: number;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** Use embedded PGlite in one all-in-one process instead of Postgres + separate processes. */
  allInOne?: boolean;
  /** Another Redis than the machine's (a fault test's own). */
  redisUrl?: string;
  /** Another Postgres server than the machine's (a fault test's own): a URL to one of its databases. */
  postgresServerUrl?: string;
  /**
   * A production build (`pnpm build`'s dist/ layout): run `node <built>/<role>.mjs` with
   * NODE_ENV=production, as the image does, instead of the sources through tsx; no dev user or key.
   */
  built?: string;
}

const ENTRY: Record<Role, string> = {
  api: "apps/api/src/main.ts",
  all: "apps/api/src/main.ts",
  scheduler: "apps/scheduler/src/main.ts",
  worker: "apps/worker/src/main.ts",
};
/** The built file of each role (scripts/build.mjs). */
const BUILT_ENTRY: Record<Role, string> = {
  api: "api.mjs",
  all: "api.mjs",
  scheduler: "scheduler.mjs",
  worker: "worker.mjs",
};

/** A TCP port nobody listens on (e.g. for a second API process). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * A real cluster for one test file: its own Postgres database and Redis prefix, the
 * API, the scheduler and N workers as separate Node processes (as `pnpm start:*` runs them).
 */
export class Cluster {
  readonly prefix = `test-${randomUUID().slice(0, 8)}`;
  readonly processes: ClusterProcess[] = [];
  port = 0;
  database: TestDatabase | null = null;
  private env: Record<string, string> = {};
  private redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  private built: string | undefined;

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = new Cluster();
    await cluster.boot(options);
    return cluster;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async boot(options: ClusterOptions): Promise<void> {
    mkdirSync(LOG_DIR, { recursive: true });
    this.port = await freePort();
    if (options.redisUrl) this.redisUrl = options.redisUrl;
    this.built = options.built;
    const common: Record<string, string> = {
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      LOG_LEVEL: "info",
      ...(options.built ? { NODE_ENV: "production" } : { DEV_API_KEY: DEV_KEY, DEV_MODE: "true" }),
      PORT: String(this.port),
      ...options.env,
    };
    if (options.allInOne) {
      this.env = { ...common, PGLITE_DIR: join(LOG_DIR, `${this.prefix}-pglite`), ROLES: "all" };
      this.spawn("all", "all");
    } else {
      this.database = await createTestDatabase(
        options.postgresServerUrl ? { serverUrl: options.postgresServerUrl } : {},
      );
      this.env = { ...common, DATABASE_URL: this.database.url };
      this.spawn("api", "api");
      this.spawn("scheduler", "scheduler");
      for (let i = 1; i <= (options.workers ?? 2); i += 1) this.spawn("worker", `worker-${i}`);
    }
    await this.waitReady();
  }

  /** Starts one more process of a role (e.g. a restarted scheduler); `extraEnv` e.g. gives a second API its own PORT. */
  spawn(role: Role, name: string, extraEnv: Record<string, string> = {}): ClusterProcess {
    const logFile = join(LOG_DIR, `${this.prefix}-${name}-${Date.now()}.log`);
    const log = createWriteStream(logFile);
    const args = this.built ? [join(this.built, BUILT_ENTRY[role])] : ["--import", "tsx", ENTRY[role]];
    const child = spawn(process.execPath, args, {
      cwd: this.built ?? REPO_ROOT,
      env: { ...process.env, ...this.env, ...(role === "api" ? {} : role === "all" ? {} : { PORT: "0" }), ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    const proc = { role, name, child, logFile, exited };
    this.processes.push(proc);
    return proc;
  }

  byName(name: string): ClusterProcess {
    const found = this.processes.find(
      (p) => p.name === name && p.child.exitCode === null && p.child.signalCode === null,
    );
    if (!found) throw new Error(`no running process ${name}`);
    return found;
  }

  /** The running process with this pid (a lease owner is host:pid:random). */
  byPid(pid: number): ClusterProcess | undefined {
    return this.processes.find((p) => p.child.pid === pid);
  }

  async kill9(proc: ClusterProcess): Promise<void> {
    proc.child.kill("SIGKILL");
    await proc.exited;
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const p of this.processes) {
        if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}; see ${p.logFile}`);
      }
      try {
        const res = await fetch(`${this.baseUrl}/readyz`);
        if (res.ok && (await this.workersRegistered())) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("cluster not ready in time");
  }

  /** Flows are refused until a worker has registered their provider: wait for the running workers to have (read in Postgres, so no API key's rate limit is spent). */
  private async workersRegistered(): Promise<boolean> {
    const workers = this.processes.filter((p) => p.role === "worker" && p.child.exitCode === null).length;
    if (workers === 0 || !this.database) return true;
    const catalog = await listProviderCatalog(this.database.handle.db);
    return (catalog.find((p) => p.key === "sim")?.liveWorkers.length ?? 0) >= workers;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async (p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          p.child.kill("SIGTERM");
          const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000);
          await p.exited;
          clearTimeout(timer);
        }
      }),
    );
    await this.database?.drop();
    if (this.env.PGLITE_DIR) rmSync(this.env.PGLITE_DIR, { recursive: true, force: true });
    await deleteRedisKeys(this.redisUrl, `${this.prefix}:*`);
  }
}

/** Deletes the keys matching `pattern` (a cluster's own, by its prefix: the Redis is shared). */
export async function deleteRedisKeys(url: string, pattern: string): Promise<void> {
  const redis = createRedisConnection({
    url,
    role: "worker",
    name: "test-cleanup",
  });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit();
  }
}
