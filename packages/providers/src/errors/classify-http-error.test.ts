import { classifyHttpStatus, toProviderError } from "./classify-http-error.js";
import { ProviderError } from "./provider-error.js";
import { parseRetryAfterMs } from "./retry-after.js";

const NOW = Date.parse("2025-01-01T00:00:00Z");

describe("classifyHttpStatus", () => {
  it.each([
    [400, "bad_request", false],
    [401, "unauthorized", false],
    [403, "forbidden", false],
    [404, "not_found", false],
    [408, "timeout", true],
    [409, "server_error", true],
    [413, "bad_request", false],
    [422, "bad_request", false],
    [429, "rate_limited", true],
    [500, "server_error", true],
    [502, "server_error", true],
    [503, "server_error", true],
    [504, "server_error", true],
    [529, "server_error", true],
    [302, "invalid_response", false],
  ] as const)("%i → %s (retryable %s)", (status, code, retryable) => {
    expect(classifyHttpStatus(status)).toEqual({ code, retryable });
  });

  it("reads Retry-After in seconds, from a Headers object or a plain record", () => {
    expect(classifyHttpStatus(429, new Headers({ "Retry-After": "7" }), NOW)).toEqual({
      code: "rate_limited",
      retryable: true,
      retryAfterMs: 7000,
    });
    expect(classifyHttpStatus(503, { "Retry-After": "1.5" }, NOW).retryAfterMs).toBe(1500);
    expect(classifyHttpStatus(503, { "retry-after": ["2", "9"] }, NOW).retryAfterMs).toBe(2000);
  });

  it("reads Retry-After as an HTTP-date relative to now, and a past date as 0", () => {
    const in30s = new Date(NOW + 30_000).toUTCString();
    expect(classifyHttpStatus(429, { "retry-after": in30s }, NOW).retryAfterMs).toBe(30_000);
    expect(classifyHttpStatus(429, { "retry-after": new Date(NOW - 5_000).toUTCString() }, NOW).retryAfterMs).toBe(0);
  });

  it("prefers retry-after-ms and ignores values it cannot read", () => {
    expect(classifyHttpStatus(429, { "retry-after-ms": "250", "retry-after": "10" }, NOW).retryAfterMs).toBe(250);
    expect(classifyHttpStatus(429, { "retry-after-ms": "soon", "retry-after": "3" }, NOW).retryAfterMs).toBe(3000);
    expect(classifyHttpStatus(429, { "retry-after": "whenever" }, NOW)).toEqual({
      code: "rate_limited",
      retryable: true,
    });
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });

  it("gives no Retry-After for a non-retryable status", () => {
    expect(classifyHttpStatus(400, { "retry-after": "5" }, NOW)).toEqual({ code: "bad_request", retryable: false });
  });

  it("lets the vendor's x-should-retry override the status", () => {
    expect(classifyHttpStatus(500, { "x-should-retry": "false" }).retryable).toBe(false);
    expect(classifyHttpStatus(400, { "x-should-retry": "true" }).retryable).toBe(true);
  });
});

describe("toProviderError", () => {
  it("returns a ProviderError unchanged", () => {
    const err = new ProviderError("x", { code: "timeout", provider: "openai" });
    expect(toProviderError("openai", err)).toBe(err);
  });

  it("maps an SDK error with a status and headers", () => {
    const sdkError = Object.assign(new Error("Rate limit reached"), {
      status: 429,
      headers: new Headers({ "retry-after": "2" }),
    });
    const err = toProviderError("openai", sdkError);
    expect(err).toMatchObject({
      code: "rate_limited",
      retryable: true,
      retryAfterMs: 2000,
      status: 429,
      provider: "openai",
    });
    expect(err.message).toBe("openai: HTTP 429 (rate_limited): Rate limit reached");
    expect(err.cause).toBe(sdkError);
  });

  it("reads the status from err.response too", () => {
    const err = toProviderError("google", {
      message: "boom",
      response: { status: 503, headers: { "retry-after": "1" } },
    });
    expect(err).toMatchObject({ code: "server_error", retryable: true, retryAfterMs: 1000, status: 503 });
  });

  it("maps aborts to cancelled (not retryable) and timeouts to timeout (retryable)", () => {
    expect(toProviderError("openai", new DOMException("aborted", "AbortError"))).toMatchObject({
      code: "cancelled",
      retryable: false,
    });
    expect(
      toProviderError("openai", Object.assign(new Error("Request was aborted."), { name: "APIUserAbortError" })),
    ).toMatchObject({ code: "cancelled" });
    expect(toProviderError("openai", new DOMException("timed out", "TimeoutError"))).toMatchObject({
      code: "timeout",
      retryable: true,
    });
    expect(
      toProviderError(
        "anthropic",
        Object.assign(new Error("Request timed out."), { name: "APIConnectionTimeoutError" }),
      ),
    ).toMatchObject({ code: "timeout", retryable: true });
    expect(toProviderError("openai", Object.assign(new Error("connect"), { code: "ETIMEDOUT" }))).toMatchObject({
      code: "timeout",
      retryable: true,
    });
  });

  it("uses the call's signal: once aborted, any error is cancelled, or timeout for a timeout reason", () => {
    const cancelled = new AbortController();
    cancelled.abort();
    expect(toProviderError("openai", new Error("socket hang up"), { signal: cancelled.signal })).toMatchObject({
      code: "cancelled",
      retryable: false,
    });
    const timedOut = new AbortController();
    timedOut.abort(new DOMException("The operation timed out.", "TimeoutError"));
    expect(toProviderError("openai", new Error("whatever"), { signal: timedOut.signal })).toMatchObject({
      code: "timeout",
      retryable: true,
    });
  });

  it.each(["ECONNRESET", "ECONNREFUSED", "ENOTFOUND", "UND_ERR_SOCKET"])(
    "maps %s to a retryable connection_error",
    (code) => {
      const err = toProviderError("openai", Object.assign(new Error(`connect ${code}`), { code }));
      expect(err).toMatchObject({ code: "connection_error", retryable: true });
    },
  );

  it("looks through fetch's 'fetch failed' to the socket error", () => {
    const fetchError = new TypeError("fetch failed", {
      cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
    });
    const err = toProviderError("ollama", fetchError);
    expect(err).toMatchObject({ code: "connection_error", retryable: true });
    expect(err.message).toBe("ollama: connection failed: fetch failed (ECONNRESET)");
  });

  it("maps an SDK connection error by name", () => {
    expect(
      toProviderError("openai", Object.assign(new Error("Connection error."), { name: "APIConnectionError" })),
    ).toMatchObject({ code: "connection_error", retryable: true });
  });

  it("maps anything else to a non-retryable invalid_response", () => {
    expect(toProviderError("openai", new Error("Cannot read properties of undefined"))).toMatchObject({
      code: "invalid_response",
      retryable: false,
    });
    expect(toProviderError("openai", "a string")).toMatchObject({
      code: "invalid_response",
      message: "openai: unexpected error: a string",
    });
  });
});
