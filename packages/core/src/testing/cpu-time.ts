/**
 * The CPU time this process spent while `run` ran, in ms, and what it returned.
 *
 * The tests that bound a piece of work (linear tokenizing, a condition's time budget, a
 * template's size) use it rather than the wall clock: on a machine busy with other test
 * processes, the wall clock also counts the time they held the cores, and a bound met in
 * 50 ms of CPU failed at 500 ms of waiting.
 */
export function cpuTimeMs<T>(run: () => T): { result: T; ms: number } {
  const start = process.cpuUsage();
  const result = run();
  const spent = process.cpuUsage(start);
  return { result, ms: (spent.user + spent.system) / 1_000 };
}
