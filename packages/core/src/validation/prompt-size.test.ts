import { FLOW_LIMITS } from "../schema/limits.js";
import { parseTemplate, PromptTooLargeError, renderTemplate } from "../template/prompt-template.js";
import { compileFlow } from "./compile-flow.js";

const flowWith = (prompt: string, contextPolicy: Record<string, unknown> = {}) => ({
  name: "size",
  type: "sequential",
  contextPolicy,
  steps: [
    { id: "a", provider: "sim", model: "echo", action: "generate", prompt: "{{ original }}" },
    { id: "b", provider: "sim", model: "echo", action: "generate", prompt },
  ],
});

function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = compileFlow(input);
  return result.ok ? [] : result.issues;
}

describe("rendered prompt size", () => {
  it("validation refuses a prompt whose worst case is over maxRenderedPromptChars, naming the field and the limit", () => {
    const placements = Math.floor(FLOW_LIMITS.maxRenderedPromptChars / FLOW_LIMITS.maxInputChars) + 1;
    const issues = issuesOf(flowWith("{{ original }} ".repeat(placements)));
    expect(issues).toEqual([
      {
        path: "steps[1].prompt",
        message: expect.stringContaining(`over the limit of ${FLOW_LIMITS.maxRenderedPromptChars}`),
      },
    ]);
  });

  it("counts each placement of shared context at contextPolicy.maxSharedTokens: {{ all }} at the largest budget is refused, a smaller budget passes", () => {
    expect(issuesOf(flowWith("Improve: {{ all }}", { maxSharedTokens: FLOW_LIMITS.maxSharedTokens }))).toEqual([
      { path: "steps[1].prompt", message: expect.stringContaining("lower contextPolicy.maxSharedTokens") },
    ]);
    expect(issuesOf(flowWith("Improve: {{ all }}", { maxSharedTokens: 100_000 }))).toEqual([]);
    expect(issuesOf(flowWith("Improve: {{ all }}"))).toEqual([]);
  });

  it("rendering stops before joining once the text passes the limit", () => {
    const template = parseTemplate("{{ original }}".repeat(10));
    expect(() => renderTemplate(template, () => "x".repeat(1_000), 9_999)).toThrow(PromptTooLargeError);
    expect(renderTemplate(template, () => "x".repeat(1_000), 10_000)).toHaveLength(10_000);
  });
});
