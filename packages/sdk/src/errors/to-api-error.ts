import { EnsembleApiError, type EnsembleErrorDetail } from "./ensemble-api-error.js";

/** Codes for statuses whose body is not the API's JSON error (a proxy's page, an empty body). */
const CODE_BY_STATUS: Record<number, string> = {
  400: "validation_error",
  401: "unauthorized",
  402: "budget_exceeded",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  503: "unavailable",
};

/** An error response as an EnsembleApiError: the API's `{ error: { code, message, details } }`, or the status alone. */
export function toEnsembleApiError(
  status: number,
  bodyText: string,
  retryAfter: string | null,
  now = Date.now(),
): EnsembleApiError {
  const retryAfterMs = parseRetryAfter(retryAfter, now);
  const body = parseJson(bodyText) as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
  const error = body?.error;
  if (error && typeof error.code === "string") {
    const message = typeof error.message === "string" ? error.message : `HTTP ${status}`;
    const details = Array.isArray(error.details) ? (error.details as EnsembleErrorDetail[]) : [];
    return new EnsembleApiError(status, error.code, message, details, retryAfterMs);
  }
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? "internal" : "http_error");
  return new EnsembleApiError(
    status,
    code,
    `HTTP ${status}${bodyText ? `: ${bodyText.slice(0, 200)}` : ""}`,
    [],
    retryAfterMs,
  );
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
