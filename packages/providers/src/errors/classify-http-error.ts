import { abortedError } from "./aborted-error.js";
import { readHeader, type HttpHeaders } from "./http-headers.js";
import { ProviderError } from "./provider-error.js";
import { isRetryableCode, type ProviderErrorCode } from "./provider-error-code.js";
import { parseRetryAfterMs } from "./retry-after.js";

export interface HttpErrorClassification {
  code: ProviderErrorCode;
  retryable: boolean;
  /** Only for retryable errors whose response said how long to wait. */
  retryAfterMs?: number;
}

function codeForStatus(status: number): ProviderErrorCode {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 408) return "timeout";
  // 409: OpenAI and Anthropic use it for transient lock conflicts, and their own SDKs retry it.
  if (status === 409) return "server_error";
  if (status === 429) return "rate_limited";
  // 400, 413, 422 and the rest of 4xx: the request itself is wrong; sending it again cannot help.
  if (status >= 400 && status < 500) return "bad_request";
  // 5xx, including Anthropic's 529 "overloaded".
  if (status >= 500 && status < 600) return "server_error";
  // A "failure" that is not an HTTP error status: the SDK or a proxy gave us something unexpected.
  return "invalid_response";
}

/**
 * An HTTP error status (plus its response headers) → code, retryability and the vendor's
 * Retry-After. The vendor's `x-should-retry: true|false` (OpenAI, Anthropic) overrides the
 * status, as their own SDKs do.
 */
export function classifyHttpStatus(
  status: number,
  headers?: HttpHeaders,
  now: number = Date.now(),
): HttpErrorClassification {
  const code = codeForStatus(status);
  const shouldRetry = readHeader(headers, "x-should-retry");
  const retryable =
    shouldRetry === "true" ? true : shouldRetry === "false" ? false : isRetryableCode(code) || status === 409;
  if (!retryable) return { code, retryable };
  const retryAfterMs = parseRetryAfterMs(headers, now);
  return retryAfterMs === undefined ? { code, retryable } : { code, retryable, retryAfterMs };
}

export interface ToProviderErrorOptions {
  /** The call's signal: once it is aborted, whatever the SDK threw is a cancel (or a timeout). */
  signal?: AbortSignal;
  /** Clock for Retry-After dates, in ms. Default Date.now. */
  now?: () => number;
  /**
   * What the vendor's error body says, when the adapter can read it (an SDK's own message may be
   * the whole JSON body); used instead of the error's message for HTTP errors.
   */
  vendorMessage?: string;
  /** A wait the vendor gave outside the headers (Gemini's RetryInfo); the headers win. */
  retryAfterMs?: number;
}

// Node and undici error codes of a request that never got an answer.
const TIMEOUT_CODES = new Set([
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);
const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);
// Error class names of the vendor SDKs (openai, @anthropic-ai/sdk) for the same situations.
const ABORT_NAMES = new Set(["AbortError", "APIUserAbortError"]);
const TIMEOUT_NAMES = new Set(["TimeoutError", "APIConnectionTimeoutError"]);
const CONNECTION_NAMES = new Set(["APIConnectionError", "FetchError"]);
const MAX_CAUSE_DEPTH = 5;

type ErrorLike = {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  status?: unknown;
  statusCode?: unknown;
  headers?: unknown;
  response?: unknown;
};

function asObject(value: unknown): ErrorLike | undefined {
  return typeof value === "object" && value !== null ? value : undefined;
}

/** The error and its causes, outermost first: fetch wraps the socket error ("fetch failed" → ECONNRESET). */
function causeChain(err: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current = asObject(err);
  while (current && chain.length < MAX_CAUSE_DEPTH && !chain.includes(current)) {
    chain.push(current);
    current = asObject(current.cause);
  }
  return chain;
}

function httpStatusOf(err: ErrorLike): { status: number; headers?: HttpHeaders } | undefined {
  const response = asObject(err.response);
  const status = [err.status, err.statusCode, response?.status].find(
    (s): s is number => typeof s === "number" && Number.isInteger(s),
  );
  if (status === undefined || status < 100 || status > 599) return undefined;
  const headers = asObject(err.headers) ?? asObject(response?.headers);
  return headers ? { status, headers: headers as HttpHeaders } : { status };
}

function describe(err: unknown): string {
  const obj = asObject(err);
  if (typeof obj?.message === "string" && obj.message) return obj.message;
  return typeof err === "string" ? err : "unknown error";
}

/** Which network failure, if any, the chain shows. */
function networkCode(chain: readonly ErrorLike[]): "timeout" | "connection_error" | "cancelled" | undefined {
  for (const e of chain) {
    const name = typeof e.name === "string" ? e.name : "";
    const code = typeof e.code === "string" ? e.code : "";
    if (ABORT_NAMES.has(name) || code === "ABORT_ERR") return "cancelled";
    if (TIMEOUT_NAMES.has(name) || TIMEOUT_CODES.has(code)) return "timeout";
    if (CONNECTION_NAMES.has(name) || CONNECTION_CODES.has(code)) return "connection_error";
    if (name === "TypeError" && e.message === "fetch failed") return "connection_error";
  }
  return undefined;
}

/**
 * Anything an SDK or fetch threw → a ProviderError: HTTP statuses through classifyHttpStatus,
 * aborts → `cancelled` (not retryable), timeouts and connection failures → retryable. What
 * cannot be recognised becomes a non-retryable `invalid_response`: adapters map the cases they
 * know, and retrying an unknown failure (often our own bug) only multiplies it.
 */
export function toProviderError(provider: string, err: unknown, options: ToProviderErrorOptions = {}): ProviderError {
  if (err instanceof ProviderError) return err;
  if (options.signal?.aborted) return abortedError(provider, options.signal, err);
  const chain = causeChain(err);
  const message = describe(err);
  for (const e of chain) {
    const http = httpStatusOf(e);
    if (!http) continue;
    const classified = classifyHttpStatus(http.status, http.headers, (options.now ?? Date.now)());
    const { code, retryable } = classified;
    const retryAfterMs = retryable ? (classified.retryAfterMs ?? options.retryAfterMs) : undefined;
    return new ProviderError(`${provider}: HTTP ${http.status} (${code}): ${options.vendorMessage || message}`, {
      code,
      provider,
      retryable,
      status: http.status,
      cause: err,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  const network = networkCode(chain);
  if (network === "cancelled")
    return new ProviderError(`${provider}: call cancelled: ${message}`, { code: "cancelled", provider, cause: err });
  if (network === "timeout")
    return new ProviderError(`${provider}: call timed out: ${message}`, { code: "timeout", provider, cause: err });
  if (network === "connection_error") {
    // fetch's "fetch failed" says nothing; the socket error in its cause says what happened.
    const detail = chain.map((e) => (typeof e.code === "string" ? e.code : undefined)).find(Boolean);
    return new ProviderError(`${provider}: connection failed: ${message}${detail ? ` (${detail})` : ""}`, {
      code: "connection_error",
      provider,
      cause: err,
    });
  }
  return new ProviderError(`${provider}: unexpected error: ${message}`, {
    code: "invalid_response",
    provider,
    cause: err,
  });
}
