import { compileFlowOrThrow, compileSingleStep, type CompiledFlow, type FlowDefinition } from "@ensemble/core";

/** What a run is compiled from: the flow's definition, or one of its steps run alone. */
export interface RunDefinitionSource {
  id: string;
  definition: unknown;
  /** Set for a single-step run (`executeStep`). */
  onlyStepId?: string | null;
  /** Set when the run executes another definition than the flow's (a rerun with overrides); `run` names it. */
  runDefinition?: unknown;
  run?: number;
}

/**
 * Compiled definitions by flow (and single step). Definitions never change after creation,
 * so a compiled flow (CEL programs, parsed templates) is reused for every step of it; and
 * compiling is a pure function of the definition, so flows created from the same definition
 * (a template used for every request) share one compiled copy.
 */
export class CompiledFlowCache {
  private readonly byFlow = new Lru<CompiledFlow>();
  private readonly byDefinition = new Lru<CompiledFlow>();
  constructor(private readonly capacity = 2_000) {}

  /** The compiled flow the run of `flow` executes. */
  forRun(flow: RunDefinitionSource): CompiledFlow {
    // A run's own definition is fixed for that run, as the flow's is for the flow.
    const ownDefinition = flow.runDefinition !== undefined && flow.runDefinition !== null;
    const definition = ownDefinition ? flow.runDefinition : flow.definition;
    const key = ownDefinition
      ? `${flow.id}@${flow.run ?? 0}`
      : flow.onlyStepId
        ? `${flow.id}#${flow.onlyStepId}`
        : flow.id;
    const hit = this.byFlow.get(key);
    if (hit) return hit;
    // Serializing is far cheaper than validating and compiling again.
    const content = `${flow.onlyStepId ?? ""}#${JSON.stringify(definition)}`;
    const compiled =
      this.byDefinition.get(content) ??
      (flow.onlyStepId
        ? compileSingleStep(definition as FlowDefinition, flow.onlyStepId)
        : compileFlowOrThrow(definition));
    this.byDefinition.set(content, compiled, this.capacity);
    this.byFlow.set(key, compiled, this.capacity);
    return compiled;
  }
}

/** A Map that forgets its least recently used entry beyond a capacity (Map keeps insertion order). */
class Lru<V> {
  private readonly entries = new Map<string, V>();

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V, capacity: number): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
}
