import { compileFlowOrThrow } from "./compile-flow.js";
import { compileSingleStep } from "./single-step.js";

const definition = compileFlowOrThrow({
  name: "Route",
  type: "conditional",
  steps: [
    {
      id: "classify",
      provider: "sim",
      model: "label?value=TECHNICAL",
      action: "analyze",
      prompt: "Classify: {{ original }}",
    },
    {
      id: "technical",
      provider: "sim",
      model: "echo",
      action: "generate",
      prompt: "Answer: {{ previous }}",
      condition: 'previous.contains("TECHNICAL")',
      fallbacks: [{ provider: "sim", model: "text?value=backup" }],
    },
    {
      id: "summary",
      provider: "sim",
      model: "echo",
      action: "summarize",
      prompt: "Summarize {{ steps.technical.output }}",
    },
  ],
}).definition;

describe("compileSingleStep", () => {
  it("keeps the step as written, without its condition or dependencies, its input the run's", () => {
    const flow = compileSingleStep(definition, "technical");
    expect(flow.steps.map((s) => s.id)).toEqual(["technical"]);
    const step = flow.byId.get("technical")!;
    expect(step.condition).toBeNull();
    expect(step.dependsOn).toEqual([]);
    expect(step.targets).toHaveLength(2);
    expect(flow.definition.name).toBe("Route › technical");
  });

  it("refuses an unknown step and a step that reads other steps, naming stepId", () => {
    expect(() => compileSingleStep(definition, "nope")).toThrow(
      expect.objectContaining({ issues: [{ path: "stepId", message: 'names no step of this flow ("nope")' }] }),
    );
    expect(() => compileSingleStep(definition, "summary")).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({
            path: "stepId",
            message: expect.stringContaining('step "summary" cannot run alone'),
          }),
        ],
      }),
    );
  });
});
