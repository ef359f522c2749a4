import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every level, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are
 * the same request. Bodies reach this after the depth check (http/json-body.ts).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(",")}}`;
}

/** SHA-256 of what makes two requests "the same": the path (with its ids), the query and the body. */
export function requestFingerprint(request: { path: string; query: unknown; body: unknown }): string {
  return createHash("sha256")
    .update(canonicalJson({ path: request.path, query: request.query ?? {}, body: request.body ?? {} }))
    .digest("hex");
}
