import { ValidationError } from "../errors/validation-error.js";
import { compileFlow } from "../validation/compile-flow.js";
import { createComparisonFlow } from "./comparison-flow.js";
import { createConditionalRoutingFlow } from "./conditional-routing-flow.js";
import { createConsensusFlow } from "./consensus-flow.js";
import { createCritiqueFlow } from "./critique-flow.js";
import { createQualityAssuranceFlow } from "./quality-assurance-flow.js";
import { createRefinementFlow } from "./refinement-flow.js";
import { createSequentialAnalysisFlow } from "./sequential-analysis-flow.js";
import { describeFlowTemplates, FLOW_TEMPLATES, findFlowTemplate } from "./template-catalog.js";

const ALIASES = {
  createCritiqueFlow: "critique",
  createComparisonFlow: "comparison",
  createRefinementFlow: "refinement",
  createSequentialAnalysisFlow: "sequential-analysis",
  createConditionalRoutingFlow: "conditional-routing",
  createConsensusFlow: "consensus",
  createQualityAssuranceFlow: "quality-assurance",
} as const;

/** A JSON body that sets every parameter of a template to a sim model or a non-default value. */
const CUSTOM_PARAMS: Record<keyof typeof ALIASES, Record<string, unknown>> = {
  createCritiqueFlow: { generatorProvider: "sim", generatorModel: "w", criticProvider: "sim", criticModel: "c" },
  createComparisonFlow: {
    models: [
      { provider: "sim", model: "a" },
      { provider: "sim", model: "b" },
    ],
    aggregator: { provider: "sim", model: "j" },
  },
  createRefinementFlow: {
    maxIterations: 7,
    qualityThreshold: 0.9,
    provider: "sim",
    model: "w",
    evaluator: { provider: "sim", model: "e" },
  },
  createSequentialAnalysisFlow: {
    extractor: { provider: "sim", model: "e" },
    synthesizer: { provider: "sim", model: "s" },
  },
  createConditionalRoutingFlow: {
    classifier: { provider: "sim", model: "c" },
    creative: { provider: "sim", model: "cr" },
  },
  createConsensusFlow: {
    proposers: [
      { provider: "sim", model: "a" },
      { provider: "sim", model: "b" },
      { provider: "sim", model: "c" },
      { provider: "sim", model: "d" },
    ],
  },
  createQualityAssuranceFlow: { judge: { provider: "sim", model: "j" } },
};

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError");
}

describe("FLOW_TEMPLATES", () => {
  it("holds the seven templates under their SDK builder names, each findable by name and by alias", () => {
    expect(Object.keys(FLOW_TEMPLATES)).toEqual(Object.keys(ALIASES));
    for (const [name, alias] of Object.entries(ALIASES)) {
      const template = FLOW_TEMPLATES[name as keyof typeof ALIASES];
      expect(template.name).toBe(name);
      expect(template.alias).toBe(alias);
      expect(findFlowTemplate(name)).toBe(template);
      expect(findFlowTemplate(alias)).toBe(template);
    }
    expect(findFlowTemplate("nope")).toBeNull();
    expect(findFlowTemplate("CritiqueFlow")).toBeNull();
  });

  it.each(Object.keys(ALIASES))("%s builds from an empty body and from JSON parameters, and both compile", (name) => {
    const template = FLOW_TEMPLATES[name as keyof typeof ALIASES];
    for (const params of [undefined, {}, CUSTOM_PARAMS[name as keyof typeof ALIASES]]) {
      const definition = template.build(params);
      expect(definition.type).toBe(template.flowType);
      const result = compileFlow(JSON.parse(JSON.stringify(definition)));
      expect(result.ok ? [] : result.issues).toEqual([]);
    }
  });

  it("builds from JSON exactly what the functions build", () => {
    expect(FLOW_TEMPLATES.createCritiqueFlow.build({})).toEqual(createCritiqueFlow());
    expect(FLOW_TEMPLATES.createComparisonFlow.build({})).toEqual(createComparisonFlow());
    expect(FLOW_TEMPLATES.createRefinementFlow.build({ maxIterations: 5, qualityThreshold: 0.85 })).toEqual(
      createRefinementFlow(5, 0.85),
    );
    expect(FLOW_TEMPLATES.createSequentialAnalysisFlow.build({})).toEqual(createSequentialAnalysisFlow());
    expect(FLOW_TEMPLATES.createConditionalRoutingFlow.build({})).toEqual(createConditionalRoutingFlow());
    expect(FLOW_TEMPLATES.createConsensusFlow.build({})).toEqual(createConsensusFlow());
    expect(FLOW_TEMPLATES.createQualityAssuranceFlow.build({})).toEqual(createQualityAssuranceFlow());
  });

  it("describes each parameter; the listed defaults are the ones the builder uses", () => {
    for (const description of describeFlowTemplates()) {
      const template = FLOW_TEMPLATES[description.name as keyof typeof ALIASES];
      expect(description.parameters.length).toBeGreaterThan(0);
      for (const param of description.parameters) {
        expect(param).toEqual({
          name: expect.any(String),
          type: expect.any(String),
          description: expect.any(String),
          ...("default" in param ? { default: param.default } : {}),
        });
      }
      const explicitDefaults = Object.fromEntries(
        description.parameters.filter((p) => "default" in p).map((p) => [p.name, p.default]),
      );
      expect(template.build(explicitDefaults)).toEqual(template.build({}));
    }
    const refinement = describeFlowTemplates().find((t) => t.alias === "refinement");
    expect(refinement?.parameters.map((p) => [p.name, p.type, p.default])).toEqual([
      ["maxIterations", "integer", 3],
      ["qualityThreshold", "number", 0.8],
      ["provider", "string", "openai"],
      ["model", "string", "gpt-4o"],
      ["evaluator", "{ provider, model }", undefined],
    ]);
  });

  it("rejects a bad parameter with a ValidationError naming its path", () => {
    const threshold = thrown(() => FLOW_TEMPLATES.createRefinementFlow.build({ qualityThreshold: 1.5 }));
    expect(threshold.issues.map((i) => i.path)).toEqual(["qualityThreshold"]);
    expect(threshold.message).toMatch(/^qualityThreshold: /);

    const model = thrown(() =>
      findFlowTemplate("comparison")?.build({
        models: [
          { provider: "openai", model: "gpt-4o" },
          { provider: "Open AI", model: "x" },
        ],
      }),
    );
    expect(model.issues.map((i) => i.path)).toEqual(["models[1].provider"]);

    const tooFew = thrown(() =>
      FLOW_TEMPLATES.createConsensusFlow.build({ proposers: [{ provider: "sim", model: "a" }] }),
    );
    expect(tooFew.issues).toEqual([{ path: "proposers", message: "needs at least two models" }]);

    const iterations = thrown(() => FLOW_TEMPLATES.createRefinementFlow.build({ maxIterations: 2.5, provider: 7 }));
    expect(iterations.issues.map((i) => i.path).sort()).toEqual(["maxIterations", "provider"]);
  });

  it("rejects an unknown parameter by its name, and a body that is not an object", () => {
    const unknown = thrown(() => FLOW_TEMPLATES.createCritiqueFlow.build({ criticModle: "x" }));
    expect(unknown.issues).toEqual([
      {
        path: "criticModle",
        message: expect.stringMatching(
          /^is not a parameter of createCritiqueFlow \(its parameters: generatorProvider, generatorModel, criticProvider, criticModel\)$/,
        ),
      },
    ]);
    expect(thrown(() => FLOW_TEMPLATES.createConsensusFlow.build([])).issues).toHaveLength(1);
    expect(thrown(() => FLOW_TEMPLATES.createConsensusFlow.build(null)).issues).toHaveLength(1);
  });

  it("validates the functions' arguments too", () => {
    expect(thrown(() => createRefinementFlow(0)).issues.map((i) => i.path)).toEqual(["maxIterations"]);
    expect(thrown(() => createComparisonFlow([])).issues.map((i) => i.path)).toEqual(["models"]);
  });
});
