import type { CompiledFlow } from "@ensemble/core";
import type { FlowGraphResponse } from "@ensemble/core";
import type { Shape } from "./serialize.js";

/**
 * A flow's steps as the engine orders them: what each waits for (`dependsOn`, resolved
 * from the flow type's presets), where it runs, and its loop. Clients draw a run's graph
 * from it without knowing the presets.
 */
export function flowGraph(flowId: string, compiled: CompiledFlow): Shape<typeof FlowGraphResponse> {
  return {
    flowId,
    type: compiled.definition.type,
    steps: compiled.steps.map((step) => ({
      id: step.id,
      kind: step.definition.kind ?? "llm",
      action: step.definition.kind === "approval" ? "approval" : step.definition.action,
      provider: step.targets[0]?.provider ?? "",
      model: step.targets[0]?.model ?? "",
      fallbacks: step.targets.slice(1),
      dependsOn: step.dependsOn,
      conditional: step.condition !== null,
      optional: step.optional,
      inLoop: step.inLoop,
    })),
    loop: compiled.loop ? { steps: compiled.loop.stepIds, maxIterations: compiled.loop.maxIterations } : null,
  };
}
