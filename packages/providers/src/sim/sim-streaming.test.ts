import { ProviderError } from "../errors/provider-error.js";
import { createSimProvider } from "./sim-provider.js";
import { simRequest, trackTimers } from "./sim-test-helpers.js";
import { splitIntoDeltas } from "./stream-deltas.js";

const LONG_TEXT = encodeURIComponent(Array.from({ length: 40 }, (_, i) => `word${i}`).join(" "));

/** Starts a call, aborts it after `abortAfterMs`, and measures how long the rejection took. */
async function abortDuring(
  model: string,
  abortAfterMs: number,
  reason?: unknown,
): Promise<{ error: unknown; lagMs: number; deltas: string[] }> {
  const controller = new AbortController();
  const deltas: string[] = [];
  const sim = createSimProvider();
  const pending = sim.call(simRequest(model, { signal: controller.signal, onToken: (d) => deltas.push(d) }));
  await new Promise((resolve) => setTimeout(resolve, abortAfterMs));
  const abortedAt = Date.now();
  controller.abort(reason);
  const error = await pending.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, lagMs: Date.now() - abortedAt, deltas };
}

describe("sim streaming", () => {
  let timers: ReturnType<typeof trackTimers>;
  beforeEach(() => {
    timers = trackTimers();
  });
  afterEach(() => {
    timers.restore();
  });

  it("splits text into word-sized deltas that join back exactly", () => {
    for (const text of ["", "one", "echo: hello world", "  leading and trailing  ", "a\n\nb\tc "]) {
      expect(splitIntoDeltas(text).join("")).toBe(text);
    }
    expect(splitIntoDeltas("echo: hello world")).toEqual(["echo:", " hello", " world"]);
  });

  it("streams deltas in order that join to the text, all at once by default", async () => {
    const deltas: string[] = [];
    const result = await createSimProvider().call(
      simRequest(`text?value=${LONG_TEXT}`, { onToken: (d) => deltas.push(d) }),
    );
    expect(deltas).toHaveLength(40);
    expect(deltas[0]).toBe("word0");
    expect(deltas[39]).toBe(" word39");
    expect(deltas.join("")).toBe(result.text);
  });

  it("clock: each delta is the clock at its emission, and the deltas join to the text", async () => {
    const lags: number[] = [];
    const deltas: string[] = [];
    const result = await createSimProvider({ tokensPerSecond: 100 }).call(
      simRequest("clock?tokens=5", {
        onToken: (d) => {
          deltas.push(d);
          lags.push(Date.now() - Number(d));
        },
      }),
    );
    expect(deltas).toHaveLength(5);
    expect(deltas.join("")).toBe(result.text);
    expect(deltas.slice(1).every((d) => d.startsWith(" "))).toBe(true);
    for (const lag of lags) expect(lag).toBeGreaterThanOrEqual(0);
    for (const lag of lags) expect(lag).toBeLessThan(20);
    const stamps = deltas.map(Number);
    expect(stamps.at(-1)! - stamps[0]!).toBeGreaterThanOrEqual(35);
  });

  it("paces deltas at tokensPerSecond", async () => {
    const times: number[] = [];
    const started = Date.now();
    // 5 deltas at 100/s: the last is due 40 ms after the first.
    const result = await createSimProvider({ tokensPerSecond: 100 }).call(
      simRequest("text?value=a%20b%20c%20d%20e", { onToken: () => times.push(Date.now() - started) }),
    );
    expect(result.text).toBe("a b c d e");
    expect(times).toHaveLength(5);
    expect(times[4]).toBeGreaterThanOrEqual(35);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it("uses the injected clock to pace", async () => {
    let clock = 0;
    // The clock jumps 1 s per reading, so every delta is already due: no waiting at all.
    const sim = createSimProvider({ tokensPerSecond: 1, now: () => (clock += 1000) });
    const started = Date.now();
    await sim.call(simRequest("text?value=a%20b%20c"));
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("throws cancelled within 50 ms when aborted during latency, leaving no timer", async () => {
    const { error, lagMs, deltas } = await abortDuring("slow?latencyMs=10000", 20);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: "cancelled", retryable: false, provider: "sim" });
    expect(lagMs).toBeLessThan(50);
    expect(deltas).toEqual([]);
    expect(timers.pending()).toBe(0);
  });

  it("throws cancelled within 50 ms when aborted while streaming, emitting nothing after", async () => {
    const { error, lagMs, deltas } = await abortDuring(`text?value=${LONG_TEXT}&tokensPerSecond=20`, 120);
    expect(error).toMatchObject({ code: "cancelled" });
    expect(lagMs).toBeLessThan(50);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.length).toBeLessThan(40);
    const countAtAbort = deltas.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(deltas).toHaveLength(countAtAbort);
    expect(timers.pending()).toBe(0);
  });

  it("hang answers only when aborted, with cancelled", async () => {
    const { error, lagMs } = await abortDuring("hang", 30);
    expect(error).toMatchObject({ code: "cancelled", retryable: false });
    expect(lagMs).toBeLessThan(50);
    expect(timers.pending()).toBe(0);
  });

  it("reports a timeout (retryable) when the abort reason is a TimeoutError", async () => {
    const { error } = await abortDuring("hang", 5, new DOMException("The operation timed out.", "TimeoutError"));
    expect(error).toMatchObject({ code: "timeout", retryable: true });
  });

  it("rejects at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(createSimProvider().call(simRequest("echo", { signal: controller.signal }))).rejects.toMatchObject({
      code: "cancelled",
    });
  });

  it("stops a synchronous stream when onToken aborts", async () => {
    const controller = new AbortController();
    const deltas: string[] = [];
    const pending = createSimProvider().call(
      simRequest(`text?value=${LONG_TEXT}`, {
        signal: controller.signal,
        onToken: (d) => {
          deltas.push(d);
          if (deltas.length === 3) controller.abort();
        },
      }),
    );
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    expect(deltas).toHaveLength(3);
  });
});
