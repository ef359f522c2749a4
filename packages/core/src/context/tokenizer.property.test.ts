import fc from "fast-check";
import { fitToTokenBudget, TRIM_MARKER } from "./token-budget.js";
import { defaultTokenCounter, MAX_PIECE_BYTES } from "./tokenizer.js";
import { cpuTimeMs } from "../testing/cpu-time.js";

/**
 * Token counting runs on provider output and tenant text: for any string, the count is a
 * whole number between 0 and the text's UTF-8 length (a token is at least one byte),
 * keepLast and the context budget stay within their budgets, and the time grows
 * linearly with the length.
 * These are bounds, not benchmarks.
 */

/** Linear bound: fixed overhead plus 20 µs per character (measured: 0.5–1.5 µs). */
const boundMs = (text: string): number => 200 + text.length * 0.02;

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 2_000 }),
  fc.string({ unit: "grapheme", maxLength: 500 }),
  // Long runs of one grapheme: the quadratic case of plain BPE.
  fc
    .tuple(fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }), fc.nat(30_000))
    .map(([piece, n]) => piece.repeat(Math.ceil(n / piece.length))),
);

describe("token counter — fuzzed", () => {
  beforeAll(() => defaultTokenCounter.count("load the rank table"));

  it("counts any string in linear time, between 0 and its UTF-8 length", () => {
    fc.assert(
      fc.property(text, (s) => {
        const { result: count, ms } = cpuTimeMs(() => defaultTokenCounter.count(s));
        expect(ms).toBeLessThan(boundMs(s));
        expect(Number.isInteger(count)).toBe(true);
        expect(count).toBeGreaterThanOrEqual(0);
        expect(count).toBeLessThanOrEqual(Buffer.byteLength(s, "utf8"));
        if (s.length > 0) expect(count).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });

  it("keepLast gives at most about the tokens asked for, in linear time", () => {
    fc.assert(
      fc.property(text, fc.nat(2_000), (s, maxTokens) => {
        const { result: tail, ms } = cpuTimeMs(() => defaultTokenCounter.keepLast(s, maxTokens));
        expect(ms).toBeLessThan(boundMs(s));
        if (maxTokens === 0) expect(tail).toBe("");
        // Re-encoding the tail can cost more: a cut character's remains, and long pieces cut
        // at other places. The context budget shrinks such a tail until it fits (below).
        expect(defaultTokenCounter.count(tail)).toBeLessThanOrEqual(
          maxTokens + 4 + Buffer.byteLength(tail) / MAX_PIECE_BYTES,
        );
        if (defaultTokenCounter.count(s) <= maxTokens) expect(tail).toBe(s);
      }),
      { numRuns: 100 },
    );
  });

  it("the context budget never keeps more tokens than allowed", () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), fc.nat(3_000), (texts, maxTokens) => {
        const segments = texts.map((t, i) => ({ key: `s${i}`, age: i, text: t }));
        const fit = fitToTokenBudget(segments, maxTokens, defaultTokenCounter);
        expect(fit.tokens).toBeLessThanOrEqual(maxTokens);
        // Each kept piece counted alone (the marker apart from the tail it precedes), as the budget counts them.
        const count = (t: string): number =>
          t.startsWith(TRIM_MARKER)
            ? defaultTokenCounter.count(TRIM_MARKER) + defaultTokenCounter.count(t.slice(TRIM_MARKER.length))
            : defaultTokenCounter.count(t);
        expect([...fit.kept.values()].reduce((sum, t) => sum + count(t), 0)).toBeLessThanOrEqual(maxTokens);
      }),
      { numRuns: 30 },
    );
  });
});
