import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time by process group from /proc (Linux): where a flow's CPU goes, which on a small
 * machine is what bounds throughput. Postgres and Redis are found by process name; empty
 * where /proc is not readable.
 */
export type CpuGroups = Record<string, number[]>;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function findServerPids(): CpuGroups {
  const groups: CpuGroups = { postgres: [], redis: [] };
  for (const entry of safeList("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = safeRead(`/proc/${entry}/comm`)?.trim() ?? "";
    if (comm.startsWith("postgres")) groups.postgres?.push(Number(entry));
    else if (comm.startsWith("redis-server")) groups.redis?.push(Number(entry));
  }
  return groups;
}

/** CPU milliseconds used so far by each group's processes (postgres: every backend, found again each time). */
export function cpuMsByGroup(groups: CpuGroups): Record<string, number> {
  const servers = findServerPids();
  const all = { ...groups, ...servers };
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(all)) {
    out[name] = pids.reduce((sum, pid) => sum + ticksOf(pid), 0) * (1000 / TICKS_PER_SECOND);
  }
  return out;
}

/** CPU ms per flow by group between two samples; backends that exited in between are not counted. */
export function perFlow(
  before: Record<string, number>,
  after: Record<string, number>,
  flows: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of Object.entries(after)) out[name] = Math.max(0, ms - (before[name] ?? 0)) / flows;
  return out;
}

function ticksOf(pid: number): number {
  const stat = safeRead(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function safeList(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
