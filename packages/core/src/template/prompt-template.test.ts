import { checkPlaceholderPath } from "./placeholders.js";
import { listPlaceholders, parseTemplate, renderTemplate, TemplateSyntaxError } from "./prompt-template.js";

describe("prompt templates", () => {
  it("renders placeholders from a resolver and nothing else", () => {
    const t = parseTemplate("Translate {{ original }} then {{steps.a.output}}; literal \\{{ kept }} and }} too");
    expect(listPlaceholders(t)).toEqual([["original"], ["steps", "a", "output"]]);
    expect(renderTemplate(t, (p) => `<${p.join(".")}>`)).toBe(
      "Translate <original> then <steps.a.output>; literal {{ kept }} and }} too",
    );
  });

  it("does not evaluate anything: an expression is a syntax error naming its position", () => {
    expect(() => parseTemplate("x {{ constructor.constructor('return 1')() }}")).toThrow(TemplateSyntaxError);
    expect(() => parseTemplate("x {{ a + b }}")).toThrow(/at character 3/);
    expect(() => parseTemplate("x {{ previous")).toThrow(/unclosed/);
  });

  it("renders a value containing {{ }} literally (no second pass)", () => {
    const t = parseTemplate("{{ previous }}");
    expect(renderTemplate(t, () => "{{ original }}")).toBe("{{ original }}");
  });

  it("knows the contract's placeholders", () => {
    const ids = new Set(["a"]);
    for (const ok of [
      "original",
      "previous",
      "all",
      "history",
      "iteration",
      "draft",
      "metadata.k",
      "metadata.a.b",
      "steps.a.output",
      "steps.a.status",
    ]) {
      expect(checkPlaceholderPath(ok.split("."), ids)).toBeNull();
    }
    expect(checkPlaceholderPath(["steps", "zz", "output"], ids)).toMatch(/names no step/);
    expect(checkPlaceholderPath(["steps", "a", "input"], ids)).toMatch(/write/);
    expect(checkPlaceholderPath(["secrets"], ids)).toMatch(/not a known placeholder/);
    expect(checkPlaceholderPath(["metadata"], ids)).toMatch(/needs a key/);
  });
});
