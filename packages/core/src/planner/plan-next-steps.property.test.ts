import fc from "fast-check";
import { driveRun, type Responder } from "../../test/drive-run.js";

/**
 * For generated valid definitions and random step outcomes, planning always ends
 * within a bound computed from the definition, never dispatches the same
 * (step, iteration, attempt) twice, and leaves every step in a terminal status.
 */

const CONDITIONS = [
  'previous.contains("A")',
  "firstNumber(previous) > 0.5",
  '!previous.contains("B")',
  "iteration < 2",
  'original.contains("q")',
];
const OUTPUTS = ["A 0.9", "B 0.2", "0.7", "none", "A B 0.1"];

interface StepSpec {
  condition: number | null;
  retries: number;
  optional: boolean;
  deps: number[];
}

const stepSpec = fc.record({
  condition: fc.option(fc.nat(CONDITIONS.length - 1), { nil: null }),
  retries: fc.nat(2),
  optional: fc.boolean(),
  deps: fc.array(fc.nat(7), { maxLength: 3 }),
});

const definitionArb = fc
  .record({
    type: fc.constantFrom("sequential", "parallel", "conditional", "critique", "refinement", "dag"),
    steps: fc.array(stepSpec, { minLength: 1, maxLength: 7 }),
    maxIterations: fc.integer({ min: 1, max: 4 }),
    threshold: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ type, steps, maxIterations, threshold }) => {
    const built = steps.map((spec: StepSpec, i) => ({
      id: `s${i}`,
      provider: "sim",
      model: "m",
      action: "generate",
      prompt: "{{ previous }}",
      ...(spec.condition !== null && type !== "refinement" ? { condition: CONDITIONS[spec.condition] } : {}),
      ...(spec.retries > 0 ? { retryOnFailure: true, maxRetries: spec.retries } : {}),
      ...(spec.optional ? { optional: true } : {}),
      // A DAG with explicit edges to earlier steps only, so it is acyclic by construction.
      ...(type === "dag" ? { dependsOn: [...new Set(spec.deps.filter((d) => d < i).map((d) => `s${d}`))] } : {}),
      ...(type === "parallel" && i === steps.length - 1 && i > 0 ? { aggregate: true } : {}),
    }));
    if (type === "refinement") {
      while (built.length < 3)
        built.push({
          id: `s${built.length}`,
          provider: "sim",
          model: "m",
          action: "generate",
          prompt: "{{ previous }}",
        });
      (built[1] as { action: string }).action = "evaluate";
      (built[2] as { action: string }).action = "refine";
      return { name: "prop", type, steps: built, maxIterations, qualityThreshold: threshold };
    }
    return { name: "prop", type: type === "dag" ? "sequential" : type, steps: built };
  });

type Outcome = "ok" | "retryable" | "fatal";
const outcomesArb = fc.array(fc.constantFrom<Outcome>("ok", "ok", "ok", "retryable", "fatal"), {
  minLength: 1,
  maxLength: 60,
});

describe("planner properties", () => {
  it("terminates within its bound, never dispatches an attempt twice, and leaves every step terminal", () => {
    fc.assert(
      fc.property(definitionArb, outcomesArb, fc.nat(OUTPUTS.length - 1), (definition, outcomes, outputSeed) => {
        let n = 0;
        const respond: Responder = () => {
          const outcome = outcomes[n % outcomes.length] as Outcome;
          const output = OUTPUTS[(n + outputSeed) % OUTPUTS.length] as string;
          n += 1;
          if (outcome === "ok") return { output };
          return { error: { code: outcome, message: outcome, retryable: outcome === "retryable" } };
        };
        const maxIterations = "maxIterations" in definition ? (definition.maxIterations as number) : 1;
        const attemptsBound = definition.steps.reduce(
          (sum, s) => sum + (1 + ((s as { maxRetries?: number }).maxRetries ?? 0)) * maxIterations,
          0,
        );
        const run = driveRun(definition, respond, { originalPrompt: "q" }, attemptsBound + definition.steps.length + 2);

        const seen = new Set<string>();
        for (const d of run.dispatched) {
          const key = `${d.stepId}#${d.iteration}#${d.attempt}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
        expect(run.dispatched.length).toBeLessThanOrEqual(attemptsBound);
        for (const s of definition.steps) {
          const records = run.records.filter((r) => r.stepId === s.id);
          expect(records.length).toBeGreaterThan(0);
          for (const r of records) expect(["success", "failed", "skipped", "cancelled"]).toContain(r.status);
        }
      }),
      { numRuns: 400 },
    );
  });
});
