import { abortedError } from "../errors/aborted-error.js";
import type { ProviderAdapter, ProviderCallRequest, ProviderCallResult } from "../provider-adapter.js";
import { waitForAbort, waitMs } from "./abortable-wait.js";
import { estimateUsage } from "./estimate-usage.js";
import { findSimBehaviour } from "./sim-behaviours.js";
import { parseSimModel, readNumberParam, SIM_PROVIDER_KEY } from "./sim-model.js";
import { splitIntoDeltas, streamDeltas } from "./stream-deltas.js";

export interface SimProviderOptions {
  /** Wait before the first delta, in ms; a model's `?latencyMs=` overrides it. Default 0. */
  latencyMs?: number;
  /** Streaming pace in word-sized deltas per second; 0 emits all at once. A model's `?tokensPerSecond=` overrides it. Default 0. */
  tokensPerSecond?: number;
  /** Clock used to pace the stream, in ms. Default Date.now. */
  now?: () => number;
}

/**
 * The deterministic offline provider (key `sim`) every test and benchmark of the cluster runs
 * on: the model string chooses the behaviour (see the package README), so a flow definition
 * alone says what each step answers, fails with or how long it takes.
 */
export function createSimProvider(options: SimProviderOptions = {}): ProviderAdapter {
  const defaults = { latencyMs: options.latencyMs ?? 0, tokensPerSecond: options.tokensPerSecond ?? 0 };
  const now = options.now ?? Date.now;

  async function call(request: ProviderCallRequest): Promise<ProviderCallResult> {
    const { signal } = request;
    if (signal.aborted) throw abortedError(SIM_PROVIDER_KEY, signal);
    const sim = parseSimModel(request.model);
    const behaviour = findSimBehaviour(sim);
    const latencyMs =
      readNumberParam(sim, "latencyMs") ?? Math.max(defaults.latencyMs, behaviour.defaultLatencyMs ?? 0);
    const tokensPerSecond = readNumberParam(sim, "tokensPerSecond") ?? defaults.tokensPerSecond;
    // Decided before waiting, so a bad model string fails at once rather than after the latency.
    const response = behaviour.respond(sim, request);
    if (response.kind === "hang") return waitForAbort(signal, SIM_PROVIDER_KEY);
    // No await at zero latency: the benchmark's hot path stays free of timers.
    if (latencyMs > 0) await waitMs(latencyMs, signal, SIM_PROVIDER_KEY);
    if (response.kind === "error") throw response.error;
    const pacing = { onToken: request.onToken, signal, provider: SIM_PROVIDER_KEY, tokensPerSecond, now };
    const text =
      response.kind === "clock"
        ? await streamDeltas(response.count, (i) => `${i === 0 ? "" : " "}${now()}`, pacing)
        : await streamDeltas(...deltasOf(response.text), pacing);
    return { text, finishReason: "stop", usage: estimateUsage(request.messages, text), model: request.model };
  }

  return { key: SIM_PROVIDER_KEY, call };
}

function deltasOf(text: string): [number, (i: number) => string] {
  const deltas = splitIntoDeltas(text);
  return [deltas.length, (i) => deltas[i] as string];
}
