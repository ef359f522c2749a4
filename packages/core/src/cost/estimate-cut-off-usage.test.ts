import { defaultTokenCounter, type TokenCounter } from "../context/tokenizer.js";
import { computeCost } from "./compute-cost.js";
import { DEFAULT_PRICE_TABLE } from "./default-price-table.js";
import { EXACT_COUNT_CHARS, estimateCutOffUsage, estimateTokens } from "./estimate-cut-off-usage.js";

describe("estimateCutOffUsage", () => {
  it("counts every message of the request and the streamed output with the context tokenizer", () => {
    const messages = [
      { role: "system" as const, content: "You are terse." },
      { role: "user" as const, content: "Summarise the report in one line." },
    ];
    const usage = estimateCutOffUsage(messages, "The report says revenue");
    const prompt =
      defaultTokenCounter.count("You are terse.") + defaultTokenCounter.count("Summarise the report in one line.");
    expect(usage).toEqual({
      promptTokens: prompt,
      completionTokens: defaultTokenCounter.count("The report says revenue"),
      totalTokens: prompt + defaultTokenCounter.count("The report says revenue"),
    });
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBe(4);
  });

  it("has no output tokens when nothing was streamed before the cut", () => {
    const usage = estimateCutOffUsage([{ role: "user", content: "hello there" }], "");
    expect(usage).toEqual({ promptTokens: 2, completionTokens: 0, totalTokens: 2 });
  });

  it("takes another counter, and its estimate prices like a reported usage", () => {
    const perChar: TokenCounter = { count: (text) => text.length, keepLast: (text) => text };
    const usage = estimateCutOffUsage([{ role: "user", content: "x".repeat(1_000) }], "y".repeat(500), perChar);
    expect(usage).toEqual({ promptTokens: 1_000, completionTokens: 500, totalTokens: 1_500 });
    // gpt-4o: $2.50 in, $10 out per million.
    expect(computeCost(usage, "openai", "gpt-4o", DEFAULT_PRICE_TABLE).cost).toBe(0.0075);
  });
});

describe("estimateTokens", () => {
  const perChar: TokenCounter = { count: (text) => text.length, keepLast: (text) => text };

  it("counts a text up to EXACT_COUNT_CHARS whole", () => {
    const counted: number[] = [];
    const spy: TokenCounter = { ...perChar, count: (text) => (counted.push(text.length), text.length) };
    expect(estimateTokens("a".repeat(EXACT_COUNT_CHARS), spy)).toBe(EXACT_COUNT_CHARS);
    expect(counted).toEqual([EXACT_COUNT_CHARS]);
  });

  it("counts a longer text's prefix and scales it by the text's length", () => {
    const counted: number[] = [];
    const halfPerChar: TokenCounter = { ...perChar, count: (text) => (counted.push(text.length), text.length / 2) };
    expect(estimateTokens("a".repeat(EXACT_COUNT_CHARS * 4), halfPerChar)).toBe(EXACT_COUNT_CHARS * 2);
    expect(counted).toEqual([EXACT_COUNT_CHARS]);
  });

  it("stays close to the whole count for a long prose prompt", () => {
    const sentence = "The quarterly report shows revenue grew by 12% while costs, notably logistics, fell. ";
    const text = sentence.repeat(Math.ceil((EXACT_COUNT_CHARS * 3) / sentence.length));
    const whole = defaultTokenCounter.count(text);
    expect(Math.abs(estimateTokens(text) - whole) / whole).toBeLessThan(0.01);
  });

  it("does not cut a surrogate pair at the prefix's end", () => {
    const text = "a".repeat(EXACT_COUNT_CHARS - 1) + "😀".repeat(10);
    const seen: string[] = [];
    estimateTokens(text, { ...perChar, count: (t) => (seen.push(t), t.length) });
    expect(seen[0]).toBe("a".repeat(EXACT_COUNT_CHARS - 1));
  });
});
