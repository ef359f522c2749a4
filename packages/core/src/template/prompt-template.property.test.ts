import fc from "fast-check";
import { checkPlaceholderPath, collectReferences } from "./placeholders.js";
import { parseTemplate, renderTemplate, TemplateSyntaxError } from "./prompt-template.js";
import { cpuTimeMs } from "../testing/cpu-time.js";

/**
 * Prompts are written by tenants and filled with provider output: for any template
 * source and any values, parsing throws only TemplateSyntaxError, rendering never
 * throws, rendered text is exactly the parts in order, and both take linear time.
 * These are bounds, not benchmarks.
 */

const MAX_MS = 500;

const source = fc.oneof(
  fc.string({ unit: "binary", maxLength: 2_000 }),
  // Templates made of the characters that matter to the parser, and long runs of them.
  fc.string({
    unit: fc.constantFrom(
      "{",
      "}",
      "\\",
      " ",
      ".",
      "a",
      "previous",
      "steps",
      "metadata",
      "constructor",
      "__proto__",
      "\u0000",
    ),
    maxLength: 400,
  }),
  fc.tuple(fc.constantFrom("{{", "{", "}}", "\\{{", "{{ a", "x"), fc.nat(20_000)).map(([piece, n]) => piece.repeat(n)),
);
const value = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.nat(50_000).map((n) => "m".repeat(n)),
);

function withinBound<T>(run: () => T): T {
  const { result, ms } = cpuTimeMs(run);
  expect(ms).toBeLessThan(MAX_MS);
  return result;
}

describe("prompt templates — fuzzed", () => {
  it("parse throws only TemplateSyntaxError; render gives the parts in order; both within the bound", () => {
    fc.assert(
      fc.property(source, fc.array(value, { minLength: 1, maxLength: 4 }), (text, values) => {
        let template;
        try {
          template = withinBound(() => parseTemplate(text));
        } catch (error) {
          if (!(error instanceof TemplateSyntaxError)) throw error;
          expect(error.position).toBeGreaterThanOrEqual(0);
          return;
        }
        for (const part of template.parts)
          if (part.kind === "placeholder")
            expect(typeof checkPlaceholderPath(part.path, new Set(["constructor"]))).not.toBe("undefined");
        collectReferences(template);
        let i = 0;
        const resolved: string[] = [];
        const rendered = withinBound(() =>
          renderTemplate(template, () => {
            const v = values[i++ % values.length] as string;
            resolved.push(v);
            return v;
          }),
        );
        let j = 0;
        expect(rendered).toBe(template.parts.map((p) => (p.kind === "text" ? p.text : resolved[j++])).join(""));
      }),
      { numRuns: 300 },
    );
  });

  it("text without placeholders renders as itself", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 2_000 }).filter((s) => !s.includes("{{")),
        (text) => {
          expect(renderTemplate(parseTemplate(text), () => "")).toBe(text);
        },
      ),
    );
  });
});
