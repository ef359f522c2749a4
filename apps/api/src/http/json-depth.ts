import { formatIssuePath } from "@ensemble/core";

interface Frame {
  value: unknown;
  depth: number;
  key: PropertyKey | null;
  parent: Frame | null;
}

/**
 * The path of the first container nested deeper than `maxDepth` (the body itself is depth 1),
 * or null. Iterative, so a hostile body cannot overflow the stack here.
 */
export function findTooDeepPath(value: unknown, maxDepth: number): string | null {
  const stack: Frame[] = [{ value, depth: 1, key: null, parent: null }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if (frame.value === null || typeof frame.value !== "object") continue;
    if (frame.depth > maxDepth) return formatIssuePath(pathOf(frame));
    const entries: [PropertyKey, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((v, i) => [i, v])
      : Object.entries(frame.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === "object")
        stack.push({ value: child, depth: frame.depth + 1, key, parent: frame });
    }
  }
  return null;
}

function pathOf(frame: Frame): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) path.unshift(f.key);
  return path;
}
