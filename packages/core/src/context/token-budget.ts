import type { TokenCounter } from "./tokenizer.js";

/** A piece of shared context: a history message or an earlier step's output. */
export interface ContextSegment {
  key: string;
  /** Smaller is older; trimming starts at the oldest. */
  age: number;
  text: string;
}

export interface TrimResult {
  /** The kept text per segment key ("" for a dropped segment). */
  kept: Map<string, string>;
  /** Tokens kept (an upper bound, the byte count, when everything fit without counting). */
  tokens: number;
  droppedSegments: number;
  truncatedSegments: number;
}

export const TRIM_MARKER = "[…earlier context trimmed…] ";

/**
 * Fits segments into `maxTokens`, dropping the oldest whole segments first; the
 * one that straddles the limit keeps its newest tokens. Ties in age break on the
 * key, so the same input always trims the same way.
 */
export function fitToTokenBudget(
  segments: readonly ContextSegment[],
  maxTokens: number,
  counter: TokenCounter,
): TrimResult {
  // A BPE token is at least one UTF-8 byte: when the bytes fit, the tokens fit, and the
  // (costly) encoding can be skipped. `tokens` is then the byte count, an upper bound.
  const bytes = segments.reduce((sum, s) => sum + Buffer.byteLength(s.text, "utf8"), 0);
  if (bytes <= maxTokens) {
    return {
      kept: new Map(segments.map((s) => [s.key, s.text])),
      tokens: bytes,
      droppedSegments: 0,
      truncatedSegments: 0,
    };
  }
  const newestFirst = [...segments].sort((a, b) => b.age - a.age || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const kept = new Map<string, string>();
  let used = 0;
  let droppedSegments = 0;
  let truncatedSegments = 0;
  const markerSize = counter.count(TRIM_MARKER);
  for (const segment of newestFirst) {
    const room = maxTokens - used;
    // Counting costs CPU: it stops past the room left, and once the budget is spent the
    // older segments are dropped uncounted. The work follows maxTokens, not the text.
    const size = room > 0 ? counter.count(segment.text, room) : Infinity;
    if (size <= room) {
      kept.set(segment.key, segment.text);
      used += size;
      continue;
    }
    if (room > markerSize + 8) {
      const fits = room - markerSize;
      let budget = fits;
      let tail = counter.keepLast(segment.text, budget);
      let tailSize = counter.count(tail);
      // Re-encoding a cut text can shift a token at the seam; shrink by the excess until it fits.
      while (budget > 0 && tailSize > fits) {
        budget = Math.max(0, budget - (tailSize - fits));
        tail = counter.keepLast(segment.text, budget);
        tailSize = counter.count(tail);
      }
      kept.set(segment.key, TRIM_MARKER + tail);
      used += markerSize + tailSize;
      truncatedSegments += 1;
    } else {
      kept.set(segment.key, "");
      droppedSegments += 1;
    }
  }
  return { kept, tokens: used, droppedSegments, truncatedSegments };
}
