import type { FlowDefinition } from "../schema/flow-definition.js";
import { compileFlowOrThrow } from "../validation/compile-flow.js";
import { stepsToRerun } from "./rerun-steps.js";

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

describe("stepsToRerun", () => {
  it("is the step and everything that depends on it", () => {
    expect([...stepsToRerun(compileFlowOrThrow(critique), "critique")].sort()).toEqual(["critique", "refine"]);
    expect([...stepsToRerun(compileFlowOrThrow(critique), "generate")].sort()).toEqual([
      "critique",
      "generate",
      "refine",
    ]);
  });

  it("restarts the whole loop from a step inside it", () => {
    const definition: FlowDefinition = compileFlowOrThrow({
      name: "loop",
      type: "sequential",
      steps: [
        step("plan"),
        step("draft", { prompt: "{{ previous }}" }),
        step("review", { prompt: "{{ previous }}" }),
        step("publish", { prompt: "{{ previous }}" }),
      ],
      loop: { steps: ["draft", "review"], until: "true", maxIterations: 2 },
    }).definition;
    expect([...stepsToRerun(compileFlowOrThrow(definition), "review")].sort()).toEqual(["draft", "publish", "review"]);
  });
});
