import type { LlmStep } from "../schema/flow-definition.js";
import type { CompiledFlow, CompiledStep } from "../validation/compiled-flow.js";
import { compileFlow } from "../validation/compile-flow.js";
import { createComparisonFlow } from "./comparison-flow.js";
import { createConditionalRoutingFlow, ROUTING_CONDITIONS } from "./conditional-routing-flow.js";
import { createConsensusFlow } from "./consensus-flow.js";
import { createCritiqueFlow } from "./critique-flow.js";
import { createQualityAssuranceFlow } from "./quality-assurance-flow.js";
import { createRefinementFlow } from "./refinement-flow.js";
import { createSequentialAnalysisFlow } from "./sequential-analysis-flow.js";
import { compileCondition } from "../condition/condition-expression.js";

const sim = (model: string): { provider: string; model: string } => ({ provider: "sim", model });

type LlmCompiledStep = Omit<CompiledStep, "definition"> & { definition: LlmStep };
type TemplateFlow = Omit<CompiledFlow, "steps" | "byId"> & {
  steps: LlmCompiledStep[];
  byId: ReadonlyMap<string, LlmCompiledStep>;
};

/** Templates build model steps only. */
function compiled(definition: unknown): TemplateFlow {
  const result = compileFlow(definition);
  if (!result.ok) throw new Error(`template does not compile: ${JSON.stringify(result.issues)}`);
  if (result.flow.steps.some((s) => s.definition.kind === "approval")) throw new Error("template has an approval step");
  return result.flow as TemplateFlow;
}

function deps(flow: CompiledFlow, id: string): string[] | undefined {
  return flow.byId.get(id)?.dependsOn;
}

function prompt(flow: CompiledFlow, id: string): string {
  const spec = flow.byId.get(id)?.definition.prompt;
  return typeof spec === "string" ? spec : "";
}

describe("createCritiqueFlow", () => {
  it("with defaults: generate (openai) → critique (anthropic) → refine (the generator)", () => {
    const flow = compiled(createCritiqueFlow());
    expect(flow.definition.type).toBe("critique");
    expect(flow.steps.map((s) => [s.id, s.definition.action, s.definition.provider, s.definition.model])).toEqual([
      ["generate", "generate", "openai", "gpt-4o"],
      ["critique", "critique", "anthropic", "claude-sonnet-4-5"],
      ["refine", "refine", "openai", "gpt-4o"],
    ]);
    expect(deps(flow, "critique")).toEqual(["generate"]);
    expect(deps(flow, "refine")).toEqual(["critique"]);
    expect(prompt(flow, "critique")).toContain("{{ steps.generate.output }}");
    expect(prompt(flow, "refine")).toContain("{{ steps.generate.output }}");
    expect(prompt(flow, "refine")).toContain("{{ steps.critique.output }}");
  });

  it("with the documented arguments and with custom ones", () => {
    const seed = compiled(createCritiqueFlow("openai", "gpt-4", "anthropic", "claude-3-opus-20240229"));
    expect(seed.byId.get("critique")?.definition.model).toBe("claude-3-opus-20240229");
    const custom = compiled(createCritiqueFlow("sim", "writer", "sim", "critic"));
    expect(custom.steps.map((s) => s.definition.model)).toEqual(["writer", "critic", "writer"]);
  });
});

describe("createComparisonFlow", () => {
  it("with defaults: three parallel answers from three vendors, then an aggregate compare step over {{ all }}", () => {
    const flow = compiled(createComparisonFlow());
    expect(flow.definition.type).toBe("parallel");
    expect(flow.steps.map((s) => s.id)).toEqual(["answer_1", "answer_2", "answer_3", "compare"]);
    expect(flow.steps.slice(0, 3).map((s) => s.definition.provider)).toEqual(["openai", "anthropic", "google"]);
    for (const id of ["answer_1", "answer_2", "answer_3"]) {
      expect(deps(flow, id)).toEqual([]);
      expect(flow.byId.get(id)?.prompt).toEqual({ kind: "original" });
    }
    const compare = flow.byId.get("compare");
    expect(compare?.definition.aggregate).toBe(true);
    expect(compare?.definition.action).toBe("compare");
    expect(compare?.dependsOn).toEqual(["answer_1", "answer_2", "answer_3"]);
    expect(compare?.inputFrom).toBe("all");
    expect(prompt(flow, "compare")).toContain("{{ all }}");
    expect(compare?.definition.provider).toBe("openai");
    expect(flow.output).toEqual({ kind: "step", stepId: "compare" });
  });

  it("takes any number of models and an aggregator", () => {
    const flow = compiled(
      createComparisonFlow([sim("a"), sim("b"), sim("c"), sim("d"), sim("e")], { aggregator: sim("judge") }),
    );
    expect(flow.steps).toHaveLength(6);
    expect(deps(flow, "compare")).toEqual(["answer_1", "answer_2", "answer_3", "answer_4", "answer_5"]);
    expect(flow.byId.get("compare")?.definition.model).toBe("judge");
    // Without an aggregator, the first model compares.
    expect(compiled(createComparisonFlow([sim("x"), sim("y")])).byId.get("compare")?.definition.model).toBe("x");
  });
});

describe("createRefinementFlow", () => {
  it("with defaults: generate → evaluate → refine, looping evaluate → refine up to 3 times until 0.8", () => {
    const flow = compiled(createRefinementFlow());
    expect(flow.definition.type).toBe("refinement");
    expect(flow.steps.map((s) => [s.id, s.definition.action])).toEqual([
      ["generate", "generate"],
      ["evaluate", "evaluate"],
      ["refine", "refine"],
    ]);
    expect(deps(flow, "evaluate")).toEqual(["generate"]);
    expect(deps(flow, "refine")).toEqual(["evaluate"]);
    expect(flow.loop).toMatchObject({
      stepIds: ["evaluate", "refine"],
      checkAfter: "evaluate",
      maxIterations: 3,
      draftFrom: ["generate", "refine"],
    });
    expect(flow.loop?.until.source).toBe("firstNumber(previous) >= 0.8");
    expect(flow.output).toEqual({ kind: "draft" });
    expect(prompt(flow, "evaluate")).toContain("{{ draft }}");
    expect(prompt(flow, "evaluate")).toContain(
      "Reply with the score (a number from 0 to 1) on the first line, then your reasons",
    );
    expect(prompt(flow, "refine")).toMatch(/\{\{ draft \}\}[\s\S]*\{\{ previous \}\}/);
  });

  it("takes the documented arguments, a model and a separate evaluator", () => {
    const seed = compiled(createRefinementFlow(5, 0.85));
    expect(seed.loop?.maxIterations).toBe(5);
    expect(seed.loop?.until.source).toBe("firstNumber(previous) >= 0.85");
    expect(seed.definition).toMatchObject({ maxIterations: 5, qualityThreshold: 0.85 });

    const custom = compiled(createRefinementFlow(1, 1, "sim", "writer", sim("grader")));
    expect(custom.steps.map((s) => s.definition.model)).toEqual(["writer", "grader", "writer"]);
    expect(custom.loop?.maxIterations).toBe(1);
    expect(
      custom.loop?.until.evaluate({
        previous: "1\nflawless",
        original: "",
        draft: "",
        steps: {},
        metadata: {},
        iteration: 1,
      }),
    ).toBe(true);
    expect(
      custom.loop?.until.evaluate({
        previous: "0.99\nalmost",
        original: "",
        draft: "",
        steps: {},
        metadata: {},
        iteration: 1,
      }),
    ).toBe(false);
  });
});

describe("createSequentialAnalysisFlow", () => {
  it("with defaults: extract facts → analyze logic → evaluate credibility → synthesize, on three vendors", () => {
    const flow = compiled(createSequentialAnalysisFlow());
    expect(flow.definition.type).toBe("sequential");
    expect(flow.steps.map((s) => [s.id, s.definition.action])).toEqual([
      ["extract_facts", "extract"],
      ["analyze_logic", "analyze"],
      ["evaluate_credibility", "evaluate"],
      ["synthesize", "summarize"],
    ]);
    expect(new Set(flow.steps.map((s) => s.definition.provider))).toEqual(new Set(["openai", "anthropic", "google"]));
    expect(deps(flow, "analyze_logic")).toEqual(["extract_facts"]);
    expect(deps(flow, "evaluate_credibility")).toEqual(["analyze_logic"]);
    expect(deps(flow, "synthesize")).toEqual(["evaluate_credibility"]);
    expect(prompt(flow, "synthesize")).toContain("{{ steps.evaluate_credibility.output }}");
    expect(flow.loop).toBeNull();
  });

  it("with custom models", () => {
    const flow = compiled(
      createSequentialAnalysisFlow({
        extractor: sim("e"),
        analyst: sim("a"),
        evaluator: sim("v"),
        synthesizer: sim("s"),
      }),
    );
    expect(flow.steps.map((s) => s.definition.model)).toEqual(["e", "a", "v", "s"]);
    expect(
      compiled(createSequentialAnalysisFlow({ analyst: sim("only") })).byId.get("extract_facts")?.definition.provider,
    ).toBe("openai");
  });
});

describe("createConditionalRoutingFlow", () => {
  const vars = (previous: string) => ({ previous, original: "", draft: "", steps: {}, metadata: {}, iteration: 0 });

  it("with defaults: classify, then three experts that each branch off the classifier", () => {
    const flow = compiled(createConditionalRoutingFlow());
    expect(flow.definition.type).toBe("conditional");
    expect(flow.steps.map((s) => s.id)).toEqual([
      "classify",
      "technical_expert",
      "creative_expert",
      "analytical_expert",
    ]);
    expect(prompt(flow, "classify")).toContain("Answer with exactly one label");
    for (const id of ["technical_expert", "creative_expert", "analytical_expert"]) {
      expect(deps(flow, id)).toEqual(["classify"]);
      expect(flow.byId.get(id)?.prompt).toEqual({ kind: "original" });
      expect(flow.byId.get(id)?.condition?.kind).toBe("cel");
    }
    expect(flow.byId.get("technical_expert")?.definition.condition).toBe('previous.contains("TECHNICAL")');
  });

  it.each([
    ["TECHNICAL", "technical"],
    ["CREATIVE", "creative"],
    ["ANALYTICAL", "analytical"],
    ["I think this is creative writing.", "analytical"],
    ["TECHNICAL (with a CREATIVE angle)", "technical"],
  ])("label %j runs exactly the %s expert", (label, expert) => {
    const ran = Object.entries(ROUTING_CONDITIONS).filter(([, source]) =>
      compileCondition(source).evaluate(vars(label)),
    );
    expect(ran.map(([name]) => name)).toEqual([expert]);
  });

  it("with custom models", () => {
    const flow = compiled(
      createConditionalRoutingFlow({
        classifier: sim("c"),
        technical: sim("t"),
        creative: sim("cr"),
        analytical: sim("an"),
      }),
    );
    expect(flow.steps.map((s) => s.definition.model)).toEqual(["c", "t", "cr", "an"]);
  });
});

describe("createConsensusFlow", () => {
  it("with defaults: openai, anthropic and google propose; an aggregate step builds the consensus", () => {
    const flow = compiled(createConsensusFlow());
    expect(flow.definition.type).toBe("parallel");
    expect(flow.steps.map((s) => [s.id, s.definition.provider])).toEqual([
      ["propose_1", "openai"],
      ["propose_2", "anthropic"],
      ["propose_3", "google"],
      ["build_consensus", "anthropic"],
    ]);
    expect(flow.byId.get("build_consensus")?.definition.aggregate).toBe(true);
    expect(deps(flow, "build_consensus")).toEqual(["propose_1", "propose_2", "propose_3"]);
    expect(prompt(flow, "build_consensus")).toContain("{{ all }}");
    expect(flow.output).toEqual({ kind: "step", stepId: "build_consensus" });
  });

  it("with custom proposers and moderator", () => {
    const flow = compiled(createConsensusFlow({ proposers: [sim("p1"), sim("p2")], moderator: sim("mod") }));
    expect(flow.steps.map((s) => s.definition.model)).toEqual(["p1", "p2", "mod"]);
  });
});

describe("createQualityAssuranceFlow", () => {
  it("with defaults: generate → check accuracy → check clarity → final verdict", () => {
    const flow = compiled(createQualityAssuranceFlow());
    expect(flow.definition.type).toBe("sequential");
    expect(flow.steps.map((s) => [s.id, s.definition.action])).toEqual([
      ["generate", "generate"],
      ["check_accuracy", "validate"],
      ["check_clarity", "evaluate"],
      ["final_verdict", "evaluate"],
    ]);
    expect(deps(flow, "check_accuracy")).toEqual(["generate"]);
    expect(deps(flow, "check_clarity")).toEqual(["check_accuracy"]);
    expect(deps(flow, "final_verdict")).toEqual(["check_clarity"]);
    for (const id of ["check_accuracy", "check_clarity", "final_verdict"])
      expect(prompt(flow, id)).toContain("{{ steps.generate.output }}");
    expect(prompt(flow, "final_verdict")).toContain("On the first line write exactly PASS");
  });

  it("with custom models", () => {
    const flow = compiled(
      createQualityAssuranceFlow({
        generator: sim("g"),
        accuracyChecker: sim("a"),
        clarityChecker: sim("c"),
        judge: sim("j"),
      }),
    );
    expect(flow.steps.map((s) => s.definition.model)).toEqual(["g", "a", "c", "j"]);
  });
});

describe("every template", () => {
  const builders = [
    createCritiqueFlow,
    () => createComparisonFlow(),
    () => createRefinementFlow(),
    () => createSequentialAnalysisFlow(),
    () => createConditionalRoutingFlow(),
    () => createConsensusFlow(),
    () => createQualityAssuranceFlow(),
  ];

  it("returns plain JSON that survives a round trip, retries its steps and gives each a name", () => {
    for (const build of builders) {
      const definition = build();
      expect(JSON.parse(JSON.stringify(definition))).toEqual(definition);
      for (const step of definition.steps) {
        expect((step as LlmStep).retryOnFailure).toBe(true);
        expect(step.name).toEqual(expect.any(String));
      }
    }
  });

  it("returns a fresh definition each call, so mutating one does not leak into the next", () => {
    const first = createComparisonFlow();
    (first.steps[0] as { model: string }).model = "changed";
    expect((createComparisonFlow().steps[0] as LlmStep | undefined)?.model).toBe("gpt-4o");
  });
});
