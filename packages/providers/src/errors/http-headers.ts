/**
 * Response headers as the vendor SDKs expose them: a fetch `Headers` (openai v5,
 * @anthropic-ai/sdk, @google/genai) or a plain record (older SDKs, Node's http).
 */
export type HttpHeaders = { get(name: string): string | null } | Readonly<Record<string, unknown>>;

/** One header's value, case-insensitively; the first of repeated values. */
export function readHeader(headers: HttpHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === "function")
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    const first: unknown = Array.isArray(value) ? value[0] : value;
    return typeof first === "string" ? first : typeof first === "number" ? String(first) : undefined;
  }
  return undefined;
}
