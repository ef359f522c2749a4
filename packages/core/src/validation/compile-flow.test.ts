import { compileFlow } from "./compile-flow.js";

const smartRouting = {
  name: "Smart Expert Routing",
  type: "conditional",
  steps: [
    {
      id: "classify",
      provider: "openai",
      model: "gpt-4",
      action: "analyze",
      prompt: "Classify this as TECHNICAL/CREATIVE/ANALYTICAL: {{ original }}",
    },
    {
      id: "technical_expert",
      provider: "openai",
      model: "gpt-4",
      action: "generate",
      prompt: "original",
      condition: 'previous.contains("TECHNICAL")',
      settings: { temperature: 0.3 },
    },
    {
      id: "creative_expert",
      provider: "anthropic",
      model: "claude-3-opus",
      action: "generate",
      prompt: "original",
      condition: 'previous.contains("CREATIVE")',
      settings: { temperature: 0.8 },
    },
  ],
};

function issuesOf(input: unknown): string[] {
  const result = compileFlow(input);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

describe("compileFlow", () => {
  it("accepts the conditional routing example (examples/03); both experts branch off the classifier", () => {
    const result = compileFlow(smartRouting);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.flow.byId.get("technical_expert")?.dependsOn).toEqual(["classify"]);
    expect(result.flow.byId.get("creative_expert")?.dependsOn).toEqual(["classify"]);
    expect(result.flow.policy).toEqual({
      shareConversationHistory: false,
      shareStepOutputs: true,
      maxSharedTokens: 10000,
      includeOriginalPrompt: true,
      preserveSystemPrompts: false,
    });
  });

  it("names the field of a bad condition by its path", () => {
    const bad = structuredClone(smartRouting);
    (bad.steps[2] as { condition: string }).condition = 'previous.contains("X"';
    expect(issuesOf(bad)).toEqual([expect.stringMatching(/^steps\[2\]\.condition: is not a valid CEL expression/)]);
  });

  it("names schema errors by path", () => {
    const bad = structuredClone(smartRouting) as { steps: Record<string, unknown>[] };
    (bad.steps[1] as Record<string, unknown>).action = "dance";
    (bad.steps[0] as Record<string, unknown>).settings = { temperature: 7 };
    const issues = issuesOf(bad);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^steps\[1\]\.action: /),
        expect.stringMatching(/^steps\[0\]\.settings\.temperature: /),
      ]),
    );
  });

  it("rejects duplicate ids, unknown references and cycles", () => {
    const dup = structuredClone(smartRouting);
    (dup.steps[1] as { id: string }).id = "classify";
    expect(issuesOf(dup)).toEqual([expect.stringMatching(/^steps\[1\]\.id: "classify" is used by an earlier step/)]);

    const cyc = {
      name: "c",
      type: "sequential",
      steps: [
        { id: "a", provider: "sim", model: "m", action: "generate", prompt: "x", dependsOn: ["b"] },
        { id: "b", provider: "sim", model: "m", action: "generate", prompt: "x", dependsOn: ["a"] },
      ],
    };
    expect(issuesOf(cyc)).toEqual([expect.stringMatching(/^steps: .*cycle: (a → b → a|b → a → b)/)]);

    const ref = {
      name: "r",
      type: "sequential",
      steps: [
        {
          id: "a",
          provider: "sim",
          model: "m",
          action: "generate",
          prompt: "{{ steps.zzz.output }}",
          inputFrom: "nope",
        },
      ],
    };
    expect(issuesOf(ref)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^steps\[0\]\.inputFrom: /),
        expect.stringMatching(/^steps\[0\]\.prompt: .*zzz/),
      ]),
    );
  });
});
