import { createRequire } from "node:module";

/**
 * Token counting for the context budget, with a real BPE tokenizer (o200k_base,
 * GPT-4o's, from js-tiktoken's rank table). Other vendors tokenize differently; for a
 * budget that caps shared context this is close enough, and it is deterministic.
 */
export interface TokenCounter {
  /** Tokens in a text; with `atMost`, counting may stop at any number above it. */
  count(text: string, atMost?: number): number;
  /** The last `maxTokens` tokens of a text (the newest part survives). */
  keepLast(text: string, maxTokens: number): string;
}

/**
 * BPE merges the bytes of one pre-tokenized piece (a word, a run of spaces or of
 * punctuation) in time quadratic in the piece's length; js-tiktoken's own encoder took
 * about a minute for 15 000 × "m". Longer pieces are cut into pieces of this many bytes
 * first, so encoding is linear in the text. Words and spaced text have no piece this
 * long and are counted exactly; a cut piece (Chinese or Japanese text without spaces, a
 * long line of "=") counts about one token more per cut: 58 instead of 55 for 84
 * Chinese characters.
 */
export const MAX_PIECE_BYTES = 64;

interface Vocabulary {
  /** The tokenizer's own pre-tokenizing pattern: it finds the pieces BPE sees. */
  piecePattern: RegExp;
  /** Token bytes as a latin1 string (one char per byte) → rank. */
  ranks: Map<string, number>;
  /** Rank → token bytes as a latin1 string. */
  bytes: string[];
}

/** js-tiktoken's o200k_base rank table: the pre-tokenizing pattern and the ranks, base64, one line per offset. */
interface RankTable {
  pat_str: string;
  bpe_ranks: string;
}

let vocabulary: Vocabulary | undefined;

/**
 * Loaded and built on first use, not at import: the rank table and the vocabulary built
 * from it are ~25 MB of heap and ~0.1–1 s of CPU, and most processes never count a token
 * (a step's shared context is counted only when it has more bytes than its token budget;
 * see fitToTokenBudget). Required synchronously, so counting stays synchronous.
 */
function getVocabulary(): Vocabulary {
  if (vocabulary) return vocabulary;
  const table = createRequire(import.meta.url)("js-tiktoken/ranks/o200k_base") as RankTable;
  const ranks = new Map<string, number>();
  const bytes: string[] = [];
  for (const line of table.bpe_ranks.split("\n")) {
    const [, offset, ...tokens] = line.split(" ");
    if (offset === undefined) continue;
    tokens.forEach((token, i) => {
      const rank = Number.parseInt(offset, 10) + i;
      // atob decodes base64 to a latin1 string, one char per byte.
      const text = atob(token);
      ranks.set(text, rank);
      bytes[rank] = text;
    });
  }
  vocabulary = { piecePattern: new RegExp(table.pat_str, "gu"), ranks, bytes };
  return vocabulary;
}

/**
 * Byte-pair merging of one piece (bytes as a latin1 string): repeatedly merge the
 * adjacent pair of lowest rank. Only the two pairs next to a merge are looked up again.
 */
function bytePairEncode(piece: string, ranks: Map<string, number>, into: number[]): void {
  const whole = ranks.get(piece);
  if (whole !== undefined) {
    into.push(whole);
    return;
  }
  const starts = Array.from({ length: piece.length + 1 }, (_, i) => i);
  const pairRank = (i: number): number =>
    i + 2 < starts.length ? (ranks.get(piece.slice(starts[i], starts[i + 2])) ?? Infinity) : Infinity;
  const pairRanks = starts.map((_, i) => pairRank(i));
  for (;;) {
    let best = 0;
    for (let i = 1; i < pairRanks.length; i++) if ((pairRanks[i] as number) < (pairRanks[best] as number)) best = i;
    if (pairRanks[best] === Infinity) break;
    starts.splice(best + 1, 1);
    pairRanks.splice(best + 1, 1);
    pairRanks[best] = pairRank(best);
    if (best > 0) pairRanks[best - 1] = pairRank(best - 1);
  }
  // Every single byte has a rank, so every part found one.
  for (let i = 0; i + 1 < starts.length; i++) into.push(ranks.get(piece.slice(starts[i], starts[i + 1])) as number);
}

/**
 * BPE tokens of a text, in time linear in its length; with `atMost`, it stops once it
 * has more. Text that spells a special token ("<|endoftext|>") is plain text here.
 */
export function encodeTokens(text: string, atMost = Infinity): number[] {
  const { piecePattern, ranks } = getVocabulary();
  const tokens: number[] = [];
  for (const match of text.matchAll(piecePattern)) {
    const piece = Buffer.from(match[0], "utf8").toString("latin1");
    for (let start = 0; start < piece.length && tokens.length <= atMost;) {
      const end = chunkEnd(piece, start);
      bytePairEncode(start === 0 && end === piece.length ? piece : piece.slice(start, end), ranks, tokens);
      start = end;
    }
    if (tokens.length > atMost) break;
  }
  return tokens;
}

/** A UTF-8 continuation byte (10xxxxxx): not the start of a character. */
const isContinuationByte = (bytes: string, at: number): boolean => (bytes.charCodeAt(at) & 0xc0) === 0x80;

/**
 * Where the chunk of a long piece that begins at `start` ends: at most MAX_PIECE_BYTES
 * later, at the start of a character. Cutting between characters keeps a run of one
 * character cut the same way wherever it begins, so a tail of it counts as the whole did.
 */
function chunkEnd(piece: string, start: number): number {
  let end = start + MAX_PIECE_BYTES;
  if (end >= piece.length) return piece.length;
  while (end > start + 1 && isContinuationByte(piece, end)) end -= 1;
  return end;
}

/** The last `length` characters of a text, not starting inside a surrogate pair. */
function lastChars(text: string, length: number): string {
  let start = Math.max(text.length - length, 0);
  const code = text.charCodeAt(start);
  if (start > 0 && code >= 0xdc00 && code <= 0xdfff) start += 1;
  return text.slice(start);
}

/**
 * The last `maxTokens` tokens, encoding only as much of the end of the text as they
 * need: a window of about 4 characters per token, doubled until it holds enough. The
 * work follows `maxTokens`, not the length of the text.
 */
function keepLastTokens(text: string, maxTokens: number): string {
  // A text within the budget is kept whole. Checked first, counting no further than the
  // budget: a tail of it can cost more than all of it ("pply" is two tokens, "Apply" one).
  if (encodeTokens(text, maxTokens).length <= maxTokens) return text;
  const { bytes } = getVocabulary();
  for (let window = maxTokens * 4; ; window *= 2) {
    const tail = lastChars(text, window);
    const tokens = encodeTokens(tail);
    if (tokens.length > maxTokens) {
      // The text the last tokens came from, as a suffix of the text itself: decoding
      // tokens that begin inside a character would make up replacement characters.
      let keptBytes = 0;
      for (let i = tokens.length - maxTokens; i < tokens.length; i++)
        keptBytes += (bytes[tokens[i] as number] ?? "").length;
      const tailBytes = Buffer.from(tail, "utf8");
      let start = tailBytes.length - keptBytes;
      while (start < tailBytes.length && ((tailBytes[start] as number) & 0xc0) === 0x80) start += 1;
      return tailBytes.subarray(start).toString("utf8");
    }
    if (tail.length === text.length) return text;
  }
}

export const defaultTokenCounter: TokenCounter = {
  count(text, atMost) {
    return text ? encodeTokens(text, atMost).length : 0;
  },
  keepLast(text, maxTokens) {
    return maxTokens <= 0 ? "" : keepLastTokens(text, maxTokens);
  },
};
