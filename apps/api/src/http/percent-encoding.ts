import type { RequestHandler } from "express";
import { ApiError } from "./api-error.js";

/**
 * The 400 for a URL path that cannot name anything: percent-encoding that is not valid
 * UTF-8 (`%E0%A4%A`, `%zz`, `%ED%A0%80`), or an encoded NUL (`%00`), which no id holds and
 * Postgres `text` cannot store (a query with it fails: a 500). One answer for every route,
 * HTTP or WebSocket, known or not: left to itself, `decodeURIComponent`'s URIError is a 500
 * in Bull Board's router and an uncaught exception (a process exit) on the WebSocket
 * upgrade, which no middleware guards.
 */
export function invalidPathError(): ApiError {
  return new ApiError("validation_error", "the URL path is not valid percent-encoding", [
    { path: "path", message: "every % must start a valid UTF-8 percent-encoded sequence, and none may encode NUL" },
  ]);
}

/** Decodes one path segment; an invalid one is the 400 above, never a URIError. */
export function decodePathSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw invalidPathError();
  }
  if (decoded.includes("\u0000")) throw invalidPathError();
  return decoded;
}

/** First middleware of the app: every route below may decode its path safely. */
export const rejectInvalidPath: RequestHandler = (req, _res, next) => {
  decodePathSegment(req.path);
  next();
};
