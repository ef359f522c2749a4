import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";
import { defaultTokenCounter, MAX_PIECE_BYTES } from "./tokenizer.js";
import { cpuTimeMs } from "../testing/cpu-time.js";

const ordinary = [
  "Review: function add(a, b) { return a - b }",
  "Grüße aus Köln — 東京タワー 😀, naïve café.\n\n  - item one\n  - item two\n\tindented\r\n",
  "https://example.com/a/b?c=d&e=f#g 3.14159 1234567890 don't we'll I'M",
  "plain text that spells <|endoftext|> and <|endofprompt|> is counted as text",
];

const elapsedMs = (run: () => void): number => cpuTimeMs(run).ms;

describe("token counter", () => {
  it("counts ordinary text exactly as js-tiktoken's o200k encoder does", () => {
    const reference = new Tiktoken(o200kBase);
    for (const text of ordinary) expect(defaultTokenCounter.count(text)).toBe(reference.encode(text, [], []).length);
  });

  it("counts a long run without spaces in linear time, close to the exact count", () => {
    defaultTokenCounter.count("warm up");
    // js-tiktoken alone: ~7 s for 6 000 × "m", ~1 min for 15 000 (quadratic).
    let count = 0;
    const ms = elapsedMs(() => (count = defaultTokenCounter.count("m".repeat(40_000))));
    expect(ms).toBeLessThan(500);
    // Exactly 4 "m" per token uncut; each cut can cost one token at most.
    expect(count).toBeGreaterThanOrEqual(10_000);
    expect(count).toBeLessThanOrEqual(10_000 + 40_000 / MAX_PIECE_BYTES);
  });

  it("keepLast keeps the newest tokens of long runs, in linear time", () => {
    const text = `${"x".repeat(30_000)} the end`;
    let tail = "";
    const ms = elapsedMs(() => (tail = defaultTokenCounter.keepLast(text, 5)));
    expect(ms).toBeLessThan(500);
    expect(text.endsWith(tail)).toBe(true);
    expect(tail).toContain("the end");
    expect(defaultTokenCounter.count(tail)).toBeLessThanOrEqual(5);
  });

  it("keepLast of text in 4-byte characters is a suffix of it, costing what was asked for", () => {
    // A run of "𝐀" (U+1D400): a token can end inside a character. The kept text is cut
    // between characters, never decoded from half a character into "\uFFFD" that costs more.
    const text = "\u{1D400}".repeat(514);
    const tail = defaultTokenCounter.keepLast(text, 513);
    expect(text.endsWith(tail)).toBe(true);
    expect(tail).not.toContain("\uFFFD");
    expect(defaultTokenCounter.count(tail)).toBeLessThanOrEqual(513);
  });

  it("loads its rank table on the first count, not when imported", () => {
    // A process of its own, so the module is loaded fresh: it lists every module resolved
    // whose URL names the rank table, after the import and after a first count.
    const probe = `
      import { registerHooks } from "node:module";
      const rankTable = [];
      registerHooks({
        resolve(specifier, context, next) {
          const resolved = next(specifier, context);
          if (resolved.url.includes("o200k_base")) rankTable.push(resolved.url);
          return resolved;
        },
      });
      const { defaultTokenCounter } = await import(${JSON.stringify(pathToFileURL(join(__dirname, "tokenizer.ts")).href)});
      const afterImport = rankTable.length;
      const tokens = defaultTokenCounter.count("hello world");
      console.log(JSON.stringify({ afterImport, tokens, afterCount: rankTable.length }));`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", probe], {
      cwd: __dirname,
      encoding: "utf8",
    });
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ afterImport: 0, tokens: 2, afterCount: 1 });
  });

  it("keepLast keeps a text within the budget whole, even when a tail of it costs more", () => {
    // "Apply" is one token; the window keepLast starts from, "pply", is two.
    expect(defaultTokenCounter.count("Apply")).toBe(1);
    expect(defaultTokenCounter.keepLast("Apply", 1)).toBe("Apply");
  });
});
