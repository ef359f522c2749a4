import type { CompiledFlow } from "../validation/compiled-flow.js";

/**
 * The steps a rerun from `fromStep` runs again: `fromStep` and every step that depends on it,
 * directly or through others. A step of the loop brings the whole loop (it starts again from
 * its first iteration), and so everything after the loop. The other steps are reused.
 */
export function stepsToRerun(flow: CompiledFlow, fromStep: string): Set<string> {
  const again = new Set<string>();
  const add = (id: string): void => {
    again.add(id);
    if (flow.loop?.stepIds.includes(id)) for (const loopStep of flow.loop.stepIds) again.add(loopStep);
  };
  add(fromStep);
  for (let changed = true; changed;) {
    changed = false;
    for (const step of flow.steps) {
      if (again.has(step.id) || !step.dependsOn.some((dep) => again.has(dep))) continue;
      add(step.id);
      changed = true;
    }
  }
  return again;
}
