import { compileFlowOrThrow, compileSingleStep, type CompiledFlow, type FlowDefinition } from "@ensemble/core";

/** What a run is compiled from: the flow's definition, or one of its steps run alone. */
export interface RunDefinitionSource {
  id: string;
  definition: unknown;
  /** Set for a single-step run (`executeStep`). */
  onlyStepId?: string | null;
}

/**
 * Compiled definitions by flow (and single step). Definitions never change after creation,
 * so a compiled flow (CEL programs, parsed templates) is reused for every step of it.
 */
export class CompiledFlowCache {
  private readonly entries = new Map<string, CompiledFlow>();
  constructor(private readonly capacity = 2_000) {}

  /** The compiled flow the run of `flow` executes. */
  forRun(flow: RunDefinitionSource): CompiledFlow {
    const key = flow.onlyStepId ? `${flow.id}#${flow.onlyStepId}` : flow.id;
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert: Map keeps insertion order, so the oldest entry is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const compiled = flow.onlyStepId ? compileSingleStep(flow.definition as FlowDefinition, flow.onlyStepId) : compileFlowOrThrow(flow.definition);
    this.entries.set(key, compiled);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return compiled;
  }
}
