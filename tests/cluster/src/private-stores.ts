import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./cluster-harness.js";

// Fault tests stop, wipe and fill Redis and Postgres. The machine's shared servers serve
// other test runs, so these tests start their own, on a free port in a temp dir.

export interface PrivateRedisOptions {
  /** `appendonly yes`: the data survives a restart (a blip), as in production. */
  appendOnly?: boolean;
  /** e.g. "8mb": a Redis that fills up. */
  maxmemory?: string;
  /** Default `noeviction`, the policy Ensemble needs. */
  maxmemoryPolicy?: string;
}

/** A redis-server of this test's own. */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), "ensemble-redis-")), options);
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port and data directory. */
  async up(): Promise<void> {
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      this.options.appendOnly ? "yes" : "no",
      "--appendfsync",
      "always",
      "--maxmemory-policy",
      this.options.maxmemoryPolicy ?? "noeviction",
      ...(this.options.maxmemory ? ["--maxmemory", this.options.maxmemory] : []),
    ];
    this.child = spawn("redis-server", args, { stdio: "ignore" });
    await waitFor(() => this.cli("ping") === "PONG", 10_000, "private redis did not start");
  }

  /** Stops the server (its AOF, if any, is kept). */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    this.child = null;
  }

  /** redis-cli against this server; returns its trimmed output ("" when it cannot connect). */
  cli(...args: string[]): string {
    try {
      return execFileSync("redis-cli", ["-p", String(this.port), ...args], { encoding: "utf8", timeout: 5_000 }).trim();
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Postgres cluster of this test's own (initdb in a temp dir, run as the `postgres` user). */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), "ensemble-pg-"));
    const pg = new PrivatePostgres(await freePort(), dir);
    chownSync(dir, ...postgresUser());
    pg.asPostgres("initdb", ["-D", pg.dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"]);
    await pg.up();
    return pg;
  }

  /** A URL for the server's `postgres` database (createTestDatabase makes its own beside it). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, "data");
  }

  async up(): Promise<void> {
    this.asPostgres("pg_ctl", [
      "start",
      "-w",
      "-D",
      this.dataDir,
      "-l",
      join(this.dir, "server.log"),
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    ]);
  }

  /** `pg_ctl stop -m fast`: what stopping the service does; clients' connections are closed. */
  async down(): Promise<void> {
    this.asPostgres("pg_ctl", ["stop", "-w", "-m", "fast", "-D", this.dataDir]);
  }

  async stop(): Promise<void> {
    try {
      await this.down();
    } catch {
      // already down
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private asPostgres(tool: string, args: string[]): void {
    const bin = join("/usr/lib/postgresql", postgresVersion(), "bin", tool);
    execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "ignore", timeout: 60_000 });
  }
}

function postgresVersion(): string {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error("no Postgres server binaries under /usr/lib/postgresql");
  return versions[0];
}

function postgresUser(): [number, number] {
  const id = (flag: string): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return [id("-u"), id("-g")];
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(message);
}
