import { z } from "zod";

/** An error the API answers with as `{ error: { code, message, details } }`. */
export type ApiErrorCode =
  | "validation_error"
  | "unauthorized"
  | "budget_exceeded"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "policy_violation"
  | "unavailable"
  | "internal";

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: unknown[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** One table from error code to HTTP status. */
export const STATUS_BY_CODE: Record<ApiErrorCode, number> = {
  validation_error: 400,
  unauthorized: 401,
  budget_exceeded: 402,
  forbidden: 403,
  policy_violation: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/** The body of every error answer, for the OpenAPI document and the tests that parse real ones. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(STATUS_BY_CODE) as [ApiErrorCode, ...ApiErrorCode[]]),
    message: z.string(),
    /** For validation_error: one entry per bad field, named by its path (`definition.steps[2].condition`). */
    details: z.array(z.unknown()),
  }),
});
