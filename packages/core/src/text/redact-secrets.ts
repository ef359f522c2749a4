/** What a masked secret is replaced with. */
export const REDACTED = "[REDACTED]";

// Vendor SDK and HTTP errors can echo request details back (a URL with Gemini's `?key=`, an
// Authorization header in a proxy's message); every pattern keeps its harmless prefix so the
// message still says which kind of credential was involved.
const SECRET_PATTERNS: readonly (readonly [RegExp, string])[] = [
  // `Authorization: Bearer …`, `Basic …`, or a bare "Bearer <token>" anywhere in text.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  // Anthropic (`sk-ant-api03-…`) before OpenAI (`sk-…`, `sk-proj-…`), so the prefix survives.
  [/\bsk-ant-[A-Za-z0-9_-]{8,}/g, `sk-ant-${REDACTED}`],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, `sk-${REDACTED}`],
  // Google API keys are `AIza` + 35 characters; accept shorter so truncated keys are caught too.
  [/\bAIza[A-Za-z0-9_-]{16,}/g, `AIza${REDACTED}`],
  // Header or field forms: `x-api-key: …`, `x-goog-api-key=…`, `"api_key": "…"`, Azure's `api-key`.
  [/\b((?:x-)?(?:goog-)?api[-_]?key["']?\s*[:=]\s*["']?)[^\s"',;&]{4,}/gi, `$1${REDACTED}`],
  // Query strings: Gemini's REST API takes the key as `?key=…`.
  [/([?&](?:key|api_key|access_token)=)[^&\s#"']+/gi, `$1${REDACTED}`],
];

/** Shorter values are not masked: they would mask ordinary words, and no real credential is that short. */
export const MIN_SECRET_CHARS = 8;

/**
 * The values this process holds as secrets (its provider keys, admin token, database
 * password …), in every form text may quote them in, longest first. Patterns only catch
 * keys that look like a vendor's; an OpenAI-compatible server's key can be any string.
 */
let configuredSecrets: string[] = [];

/**
 * Makes redactSecrets mask these exact values from now on (in this process), as they are,
 * JSON-escaped and URL-encoded. Called once at start with what the environment configures.
 */
export function registerSecretValues(values: Iterable<string | undefined>): void {
  const forms = new Set(configuredSecrets);
  for (const value of values) {
    if (value === undefined || value.length < MIN_SECRET_CHARS) continue;
    forms.add(value).add(JSON.stringify(value).slice(1, -1)).add(encodeURIComponent(value));
  }
  configuredSecrets = [...forms].sort((a, b) => b.length - a.length);
}

/** Masks every configured secret value in `text`, and anything that looks like an API key or bearer token. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of configuredSecrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
