// Loaded into a benchmarked process with `--import`: writes its event-loop delay and RSS to
// BENCH_PROBE_FILE (JSON, every 200 ms) so the bench reads them without changing the process.
// SIGUSR2 starts a new measurement (a new phase).
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let rssPeak = 0;
  process.on("SIGUSR2", () => {
    delay.reset();
    rssPeak = 0;
  });
  setInterval(() => {
    const rss = process.memoryUsage.rss();
    rssPeak = Math.max(rssPeak, rss);
    const probe = {
      loopP99Ms: delay.count > 0 ? delay.percentile(99) / 1e6 : 0,
      loopMaxMs: delay.count > 0 ? delay.max / 1e6 : 0,
      rssMb: rss / 2 ** 20,
      rssPeakMb: rssPeak / 2 ** 20,
    };
    writeFileSync(file, JSON.stringify(probe));
  }, 200).unref();
}
