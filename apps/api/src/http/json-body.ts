import { storableJson } from "@ensemble/core";
import express, { type RequestHandler } from "express";
import { ApiError } from "./api-error.js";
import { findTooDeepPath } from "./json-depth.js";
import { MAX_JSON_DEPTH } from "./request-limits.js";

/**
 * Body parsing for every route: JSON only (415 otherwise), at most `bodyBytes` (413),
 * nested at most MAX_JSON_DEPTH levels (400). Malformed JSON is a 400 from the error
 * handler. JSON.parse never assigns prototypes (`__proto__` stays a plain key) and zod's
 * objects drop or refuse unknown keys, so bodies cannot pollute prototypes. NUL and lone
 * surrogates in any string or key become U+FFFD: Postgres cannot store them.
 */
export function jsonBody(bodyBytes: number): RequestHandler[] {
  return [requireJsonContentType, express.json({ limit: bodyBytes }), rejectDeepJson];
}

const requireJsonContentType: RequestHandler = (req, _res, next) => {
  const length = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  // Without this a text/plain body would be ignored and the route would report missing fields.
  if (hasBody && !req.is("application/json")) {
    throw new ApiError("unsupported_media_type", "send the body as JSON with Content-Type: application/json", [
      { path: "Content-Type", message: "must be application/json" },
    ]);
  }
  next();
};

const rejectDeepJson: RequestHandler = (req, _res, next) => {
  const path = findTooDeepPath(req.body, MAX_JSON_DEPTH);
  if (path !== null) {
    throw new ApiError("validation_error", "the request is invalid", [
      { path, message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
  // After the depth check: storableJson recurses.
  req.body = storableJson(req.body);
  next();
};
