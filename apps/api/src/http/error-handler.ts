import { ValidationError } from "@ensemble/core";
import { isDatabaseUnavailable } from "@ensemble/db";
import {
  FlowConflictError,
  ForbiddenError,
  NotFoundError,
  PolicyViolationError,
  SpendCapReachedError,
} from "@ensemble/engine";
import { isRedisUnavailable } from "@ensemble/queue";
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { ApiError, STATUS_BY_CODE } from "./api-error.js";

/** Maps any thrown error to the contract's error body. Never a stack, never a secret. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ValidationError)
    return new ApiError("validation_error", "the request is invalid", [...error.issues]);
  if (error instanceof NotFoundError) return new ApiError("not_found", error.message);
  if (error instanceof ForbiddenError) return new ApiError("forbidden", error.message);
  if (error instanceof PolicyViolationError) {
    return new ApiError(
      "policy_violation",
      error.message,
      error.violations.map(({ path, stepId, provider, setting, message }) => ({
        path,
        stepId,
        provider,
        setting,
        message,
      })),
    );
  }
  if (error instanceof FlowConflictError)
    return new ApiError("conflict", error.message, [{ flowId: error.flowId, status: error.status }]);
  if (error instanceof SpendCapReachedError) {
    const { period, capUsd, spentUsd, resetsAt } = error.cap;
    const retryAfter = Math.max(1, Math.ceil((resetsAt.getTime() - Date.now()) / 1000));
    return new ApiError(
      "budget_exceeded",
      error.message,
      [{ period, capUsd, spentUsd, resetsAt: resetsAt.toISOString() }],
      { "Retry-After": String(retryAfter) },
    );
  }
  if (isDatabaseUnavailable(error))
    return new ApiError("unavailable", "the database is unavailable; retry shortly", [], { "Retry-After": "5" });
  if (isRedisUnavailable(error))
    return new ApiError("unavailable", "the queue is unavailable; retry shortly", [], { "Retry-After": "5" });
  const http = error as { type?: string; status?: number; expose?: boolean; limit?: number };
  // body-parser's own errors (bad JSON, oversized bodies, charsets and encodings) and the
  // router's (a path parameter that is not valid percent-encoding). Their messages are
  // never echoed: they can quote the body.
  if (http.type === "entity.parse.failed")
    return new ApiError("validation_error", "the body is not valid JSON", [{ path: "", message: "malformed JSON" }]);
  if (http.type === "entity.too.large") {
    return new ApiError(
      "payload_too_large",
      "the body is too large",
      typeof http.limit === "number" ? [{ path: "", message: `at most ${http.limit} bytes` }] : [],
    );
  }
  // Only errors meant for the client (http-errors' `expose`, the router's URIError) are 4xx; anything else is ours.
  const clientError = http.expose === true || error instanceof URIError;
  if (clientError && http.status === 415)
    return new ApiError("unsupported_media_type", "send the body as UTF-8 JSON, uncompressed or gzip/deflate/br");
  if (clientError && typeof http.status === "number" && http.status >= 400 && http.status < 500)
    return new ApiError("validation_error", "the request is invalid");
  return new ApiError("internal", "something went wrong on our side; it has been logged");
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const apiError = toApiError(error);
    const status = STATUS_BY_CODE[apiError.code];
    if (status >= 500) logger.error({ err: error, method: req.method, path: req.path }, "request failed");
    // A streaming route (SSE) may fail after its headers went out: end it, never fall through
    // to Express's default handler, which would write the stack in development.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res
      .status(status)
      .set(apiError.headers)
      .json({ error: { code: apiError.code, message: apiError.message, details: apiError.details } });
  };
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new ApiError("not_found", "no such route"));
};
