import { compileFlowOrThrow } from "./compile-flow.js";
import { applyStepOverrides, pathInOverrides } from "./step-overrides.js";

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: "sim",
  model: "sim-1",
  action: "generate" as const,
  prompt: "{{ original }}",
  ...extra,
});

const critique = compileFlowOrThrow({
  name: "critique",
  type: "sequential",
  steps: [
    step("generate"),
    step("critique", { prompt: "Critique: {{ steps.generate.output }}" }),
    step("refine", { prompt: "{{ steps.generate.output }} {{ steps.critique.output }}" }),
  ],
}).definition;

describe("applyStepOverrides", () => {
  it("replaces the overridden fields and keeps the rest", () => {
    const result = applyStepOverrides(critique, { critique: { model: "sim-2", settings: { temperature: 0 } } });
    expect(result.ok).toBe(true);
    const steps = result.ok ? result.flow.definition.steps : [];
    expect(steps[1]).toMatchObject({ id: "critique", model: "sim-2", settings: { temperature: 0 } });
    expect(steps[1]?.prompt).toBe("Critique: {{ steps.generate.output }}");
    expect(steps[0]).toMatchObject({ model: "sim-1" });
  });

  it("refuses to override an approval step, naming it", () => {
    const reviewed = compileFlowOrThrow({
      name: "reviewed",
      type: "sequential",
      steps: [step("draft"), { id: "review", kind: "approval", prompt: "{{ previous }}" }],
    }).definition;
    const result = applyStepOverrides(reviewed, { review: { model: "sim-2" } });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(["overrides.review"]);
  });

  it("names an unknown step by its override path", () => {
    const result = applyStepOverrides(critique, { nosuch: { model: "x" } });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(["overrides.nosuch"]);
  });

  it("names a bad overridden field by its override path", () => {
    const result = applyStepOverrides(critique, { generate: { prompt: "{{ steps.refine.output }}" } });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(["overrides.generate.prompt"]);
  });

  it("takes only the overrides' own keys: a step named like an Object member keeps its fields", () => {
    const definition = compileFlowOrThrow({
      name: "members",
      type: "sequential",
      steps: [step("toString"), step("constructor", { prompt: "{{ previous }}" })],
    }).definition;
    const result = applyStepOverrides(definition, { constructor: { model: "sim-2" } });
    expect(
      result.ok ? result.flow.definition.steps.map((s) => [s.id, "model" in s ? s.model : null]) : result.issues,
    ).toEqual([
      ["toString", "sim-1"],
      ["constructor", "sim-2"],
    ]);
    const overrides = { constructor: { model: "sim-2" } };
    expect(pathInOverrides("definition.steps[0].model", definition, overrides)).toBe("definition.steps[0].model");
    expect(pathInOverrides("definition.steps[1].model", definition, overrides)).toBe("overrides.constructor.model");
  });
});
