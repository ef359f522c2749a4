import { EnsembleApiError, isEnsembleApiError } from "./ensemble-api-error.js";
import { parseRetryAfter, toEnsembleApiError } from "./to-api-error.js";

describe("toEnsembleApiError", () => {
  it("carries the API's code, message and details with the status", () => {
    const body = JSON.stringify({
      error: {
        code: "validation_error",
        message: "the request is invalid",
        details: [{ path: "definition.steps[0].model", message: "Required" }],
      },
    });
    const error = toEnsembleApiError(400, body, null);
    expect(error).toBeInstanceOf(EnsembleApiError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "EnsembleApiError",
      status: 400,
      code: "validation_error",
      message: "the request is invalid",
      details: [{ path: "definition.steps[0].model", message: "Required" }],
    });
    expect(isEnsembleApiError(error, "validation_error")).toBe(true);
    expect(isEnsembleApiError(error, "not_found")).toBe(false);
  });

  it("reads Retry-After on 429 and 503", () => {
    const body = JSON.stringify({ error: { code: "rate_limited", message: "slow down", details: [] } });
    expect(toEnsembleApiError(429, body, "3").retryAfterMs).toBe(3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(toEnsembleApiError(503, "", "Thu, 01 Jan 2026 00:00:05 GMT", now)).toMatchObject({
      code: "unavailable",
      retryAfterMs: 5000,
    });
  });

  it("names the code by status when the body is not the API's error (a proxy's page)", () => {
    expect(toEnsembleApiError(404, "<html>nope</html>", null)).toMatchObject({
      status: 404,
      code: "not_found",
      message: "HTTP 404: <html>nope</html>",
      details: [],
    });
    expect(toEnsembleApiError(502, "", null)).toMatchObject({ status: 502, code: "internal", message: "HTTP 502" });
    expect(toEnsembleApiError(418, "{}", null)).toMatchObject({ code: "http_error" });
    // details that are not a list are dropped rather than mistyped
    expect(
      toEnsembleApiError(409, JSON.stringify({ error: { code: "conflict", message: "m", details: "x" } }), null)
        .details,
    ).toEqual([]);
  });

  it("parseRetryAfter: seconds, dates, junk", () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("1.5")).toBe(1500);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:00 GMT", Date.parse("2026-01-01T00:01:00Z"))).toBe(0);
  });
});
