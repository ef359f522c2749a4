import { readHeader, type HttpHeaders } from "./http-headers.js";

const SECONDS = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * How long the vendor asks us to wait, in ms, or undefined when it does not say.
 * `retry-after-ms` (OpenAI, Azure) wins over `retry-after`, which is either
 * delta-seconds or an HTTP-date (RFC 9110 §10.2.3); a date in the past means 0.
 * The value is not capped here: the worker's retry policy decides how long is too long.
 */
export function parseRetryAfterMs(headers: HttpHeaders | undefined, now: number = Date.now()): number | undefined {
  const ms = readHeader(headers, "retry-after-ms");
  if (ms !== undefined) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const retryAfter = readHeader(headers, "retry-after");
  if (retryAfter === undefined) return undefined;
  if (SECONDS.test(retryAfter)) return Math.ceil(Number.parseFloat(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
