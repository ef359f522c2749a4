import type { RequestHandler } from "express";
import { ApiError } from "./api-error.js";

/**
 * The 400 for a URL path that is not valid percent-encoding (`%E0%A4%A`, `%zz`). One answer
 * for every route, HTTP or WebSocket, known or not: `decodeURIComponent` throws a URIError
 * on such input, and left to itself that error is a 500 in Bull Board's router and an
 * uncaught exception (a process exit) on the WebSocket upgrade, which no middleware guards.
 */
export function malformedPathError(): ApiError {
  return new ApiError("validation_error", "the URL path is not valid percent-encoding", [{ path: "path", message: "every % must start a valid UTF-8 percent-encoded sequence" }]);
}

/** Decodes one path segment; a malformed one is the 400 above, never a URIError. */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw malformedPathError();
  }
}

/** First middleware of the app: every route below may decode its path safely. */
export const rejectMalformedPath: RequestHandler = (req, _res, next) => {
  decodePathSegment(req.path);
  next();
};
