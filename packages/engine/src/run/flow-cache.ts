import { compileFlowOrThrow, type CompiledFlow } from "@ensemble/core";

/**
 * Compiled definitions by flow id. Definitions never change after creation, so a
 * compiled flow (CEL programs, parsed templates) is reused for every step of it.
 */
export class CompiledFlowCache {
  private readonly entries = new Map<string, CompiledFlow>();
  constructor(private readonly capacity = 2_000) {}

  get(flowId: string, definition: unknown): CompiledFlow {
    const hit = this.entries.get(flowId);
    if (hit) {
      // Re-insert: Map keeps insertion order, so the oldest entry is the least recently used.
      this.entries.delete(flowId);
      this.entries.set(flowId, hit);
      return hit;
    }
    const compiled = compileFlowOrThrow(definition);
    this.entries.set(flowId, compiled);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return compiled;
  }
}
