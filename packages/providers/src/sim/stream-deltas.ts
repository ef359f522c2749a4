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
 * Emits the deltas through onToken, paced at tokensPerSecond. Delta i is due at
 * start + i / rate, measured on the clock rather than by summing sleeps, so timer overshoot
 * does not add up; deltas already due go out together, which keeps high rates to about one
 * timer per millisecond. Paced even without onToken, so a call takes as long either way.
 */
export async function streamDeltas(deltas: readonly string[], options: StreamDeltasOptions): Promise<void> {
  const { onToken, signal, provider, tokensPerSecond, now } = options;
  if (tokensPerSecond <= 0) {
    for (const delta of deltas) {
      throwIfAborted(signal, provider);
      onToken?.(delta);
    }
    return;
  }
  const intervalMs = 1000 / tokensPerSecond;
  const start = now();
  for (let i = 0; i < deltas.length; i++) {
    const waitFor = start + i * intervalMs - now();
    // setTimeout cannot wait less than 1 ms; anything due sooner goes out now.
    if (waitFor >= 1) await waitMs(waitFor, signal, provider);
    else throwIfAborted(signal, provider);
    onToken?.(deltas[i] as string);
  }
}
