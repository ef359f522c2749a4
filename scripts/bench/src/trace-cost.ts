// `pnpm bench:trace`: what tracing costs one step, off (no OTEL_* exporter: the default) and on.
// Each step passes through the same telemetry helpers as in a worker (the step attempt's span,
// the provider call's span, the run's trace and span) around an empty async step, and is
// compared with the same empty step called directly, in the same process and run. With tracing
// on, spans go through the SDK's span processor to an exporter that drops them, so the figure is
// the cost of making spans, not of sending them. Needs neither Redis nor Postgres.
import {
  newRunTrace,
  recordRunSpan,
  startTracing,
  withProviderCallSpan,
  withStepAttemptSpan,
  type RunTrace,
} from "@ensemble/telemetry";

const STEPS = Number(process.env.TRACE_BENCH_STEPS ?? "200000");
const ROUNDS = 5;

const call = async (): Promise<string> => "ok";
const providerCallEnd = () => ({
  model: "sim-1",
  finishReason: "stop",
  usage: { promptTokens: 12, completionTokens: 3 },
  text: "ok",
  costUsd: 0.0001,
});

/** One step as a worker runs it: a run trace, the attempt's span, the provider call's span, the run's span. */
async function tracedStep(i: number): Promise<void> {
  const runTrace: RunTrace | null = newRunTrace();
  const started = new Date();
  await withStepAttemptSpan(
    runTrace,
    { flowId: "flow_bench", run: 1, stepId: "draft", iteration: 0, attempt: i },
    () =>
      withProviderCallSpan(
        { provider: "sim", model: "sim-1", settings: { temperature: 0.2 }, attempt: 0, messages: [] },
        call,
        providerCallEnd,
      ),
    () => "completed",
  );
  recordRunSpan(runTrace, {
    flowId: "flow_bench",
    run: 1,
    name: "bench",
    status: "completed",
    startedAt: started,
    endedAt: new Date(),
  });
}

async function directStep(): Promise<void> {
  new Date();
  await call();
  new Date();
}

/** Nanoseconds per step, the best of ROUNDS rounds (the least disturbed by GC and other processes). */
async function nsPerStep(step: (i: number) => Promise<void>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < STEPS; i += 1) await step(i);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / STEPS);
  }
  return best;
}

const log = (message: string): void => void process.stderr.write(`==> ${message}\n`);
log(`${STEPS} steps per round, best of ${ROUNDS} rounds, each setting`);
await nsPerStep(directStep); // warm-up: JIT
await nsPerStep(tracedStep);
const direct = await nsPerStep(directStep);
const off = await nsPerStep(tracedStep);

const tracing = await startTracing({
  serviceName: "bench",
  exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined },
});
const on = await nsPerStep(tracedStep);
await tracing.shutdown();

const row = (name: string, ns: number): string => `${name.padEnd(28)} ${ns.toFixed(0).padStart(7)} ns per step`;
console.log(row("empty step, called directly", direct));
console.log(row("through the helpers, off", off), `(+${(off - direct).toFixed(0)} ns)`);
console.log(row("through the helpers, on", on), `(+${(on - direct).toFixed(0)} ns)`);
console.log(
  `trace_off_ns_per_step=${off.toFixed(0)} direct_ns_per_step=${direct.toFixed(0)} ratio=${(off / direct).toFixed(2)} trace_off_added_ns=${(off - direct).toFixed(0)} trace_on_added_ns=${(on - direct).toFixed(0)}`,
);
