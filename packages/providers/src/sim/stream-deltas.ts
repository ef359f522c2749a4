import { throwIfAborted, waitMs } from "./abortable-wait.js";

/** Word-sized pieces, each a word with the whitespace before it; they join back to `text` exactly. */
export function splitIntoDeltas(text: string): string[] {
  return text.match(/\s*\S+|\s+/g) ?? [];
}

export interface StreamDeltasOptions {
  onToken: ((delta: string) => void) | undefined;
  signal: AbortSignal;
  provider: string;
  /** Deltas per second; 0 emits them all at once. */
  tokensPerSecond: number;
  now: () => number;
}

/**
 * Emits `count` deltas through onToken, paced at tokensPerSecond; delta i is `deltaAt(i)`,
 * made when it goes out (a delta may carry its own emission time). Returns their concatenation. Delta i is due at
 * start + i / rate, measured on the clock rather than by summing sleeps, so timer overshoot
 * does not add up; deltas already due go out together, which keeps high rates to about one
 * timer per millisecond. Paced even without onToken, so a call takes as long either way.
 */
export async function streamDeltas(
  count: number,
  deltaAt: (i: number) => string,
  options: StreamDeltasOptions,
): Promise<string> {
  const { onToken, signal, provider, tokensPerSecond, now } = options;
  const intervalMs = tokensPerSecond > 0 ? 1000 / tokensPerSecond : 0;
  const start = now();
  let text = "";
  for (let i = 0; i < count; i++) {
    const waitFor = start + i * intervalMs - now();
    // setTimeout cannot wait less than 1 ms; anything due sooner goes out now.
    if (waitFor >= 1) await waitMs(waitFor, signal, provider);
    else throwIfAborted(signal, provider);
    const delta = deltaAt(i);
    text += delta;
    onToken?.(delta);
  }
  return text;
}
