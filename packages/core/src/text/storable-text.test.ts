import fc from "fast-check";
import { REPLACEMENT_CHARACTER as R, storableJson, storableText } from "./storable-text.js";
import { cpuTimeMs } from "../testing/cpu-time.js";

const storable = (s: string): boolean => !s.includes("\0") && Buffer.from(s, "utf8").toString("utf8") === s;

describe("storableText", () => {
  it.each([
    ["a\u0000b", `a${R}b`],
    ["\u0000\u0000", `${R}${R}`],
    ["lone high \uD800 here", `lone high ${R} here`],
    ["lone low \uDC00 here", `lone low ${R} here`],
    ["high at end \uD83D", `high at end ${R}`],
    ["reversed pair \uDE00\uD83D", `reversed pair ${R}${R}`],
    ["pair 😀 kept", "pair 😀 kept"],
    ["\uD83D\uD83D\uDE00", `${R}😀`],
    ["", ""],
  ])("replaces NUL and lone surrogates: %j", (input, expected) => {
    expect(storableText(input)).toBe(expected);
  });

  it("keeps text that has neither, and the literal six characters \\u0000", () => {
    const text = "plain \\u0000 text, ünïcödé, 日本語, 😀";
    expect(storableText(text)).toBe(text);
  });

  it("always yields storable text of the same length, unchanged when it was storable", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.string({ unit: fc.constantFrom("\0", "\uD800", "\uDFFF", "a", "😀"), maxLength: 50 }),
        (a, b) => {
          for (const text of [a, b, a + b]) {
            const clean = storableText(text);
            expect(storable(clean)).toBe(true);
            expect(clean).toHaveLength(text.length);
            if (storable(text)) expect(clean).toBe(text);
          }
        },
      ),
    );
  });

  it("is linear: a megabyte of lone surrogates takes milliseconds", () => {
    const text = "\uD800a".repeat(500_000);
    const { result, ms } = cpuTimeMs(() => storableText(text));
    expect(result).toHaveLength(text.length);
    expect(ms).toBeLessThan(1_000);
  });
});

describe("storableJson", () => {
  it("cleans strings and keys at any depth and leaves other values alone", () => {
    const when = new Date(0);
    const value = { "k\u0000": ["x\u0000", 1, null, true, { deep: "\uDC00" }], ok: "fine", when };
    expect(storableJson(value)).toEqual({ [`k${R}`]: [`x${R}`, 1, null, true, { deep: R }], ok: "fine", when });
    expect(JSON.stringify(storableJson(value))).not.toMatch(/\\u0000|\\udc00/i);
  });

  it("returns the same objects when nothing needed cleaning", () => {
    const value = { a: ["b", { c: "d" }], e: 1 };
    expect(storableJson(value)).toBe(value);
    const partly = { clean: { a: "b" }, dirty: "\0" };
    expect(storableJson(partly).clean).toBe(partly.clean);
  });

  it("keeps a __proto__ key a plain key", () => {
    const value = JSON.parse('{"__proto__": {"polluted": "\\u0000"}}') as Record<string, unknown>;
    const clean = storableJson(value);
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
    expect(Object.keys(clean)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
