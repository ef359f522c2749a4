/** Graph helpers over `id → dependencies`. */

/** A cycle as a list of ids (first repeated at the end), or null. */
export function findCycle(dependencies: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    const seen = state.get(id);
    if (seen === "done") return null;
    if (seen === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const dep of dependencies.get(id) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of dependencies.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return null;
}

/** Every step that must finish before `id` (transitively). Assumes no cycles. */
export function ancestorsOf(id: string, dependencies: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set<string>();
  const pending = [...(dependencies.get(id) ?? [])];
  while (pending.length) {
    const next = pending.pop() as string;
    if (out.has(next)) continue;
    out.add(next);
    pending.push(...(dependencies.get(next) ?? []));
  }
  return out;
}
