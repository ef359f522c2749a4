/** Percentile by nearest rank over a copy of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface RunFigures {
  name: string;
  /** Per-hop overhead samples, ms (step N done → step N+1 running). */
  hopsMs: number[];
  /** Flows (or 3-hop chains) per second, one at a time. */
  serialPerSecond: number;
  /** Flows (or chains) per second with 100 in flight. */
  concurrentPerSecond: number;
}

export function formatRow(f: RunFigures): string {
  const p50 = percentile(f.hopsMs, 50).toFixed(2);
  const p99 = percentile(f.hopsMs, 99).toFixed(2);
  return `${f.name.padEnd(34)} hop p50 ${p50.padStart(7)} ms   p99 ${p99.padStart(7)} ms   serial ${f.serialPerSecond.toFixed(0).padStart(6)}/s   100-concurrent ${f.concurrentPerSecond.toFixed(0).padStart(6)}/s`;
}

/** Runs `total` tasks with at most `concurrency` in flight; returns tasks per second. */
export async function closedLoop(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next;
      next += 1;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return total / ((performance.now() - started) / 1000);
}
