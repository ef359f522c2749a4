import type { RequestHandler } from "express";
import { ApiError } from "./api-error.js";

/**
 * Once the process is draining (SIGTERM), new API requests are refused with 503 and
 * `Connection: close`, so the client retries on another replica; requests already being
 * served finish. Without a signal (tests that build the app alone) it passes everything.
 */
export function refuseWhileDraining(shutdown: AbortSignal | undefined): RequestHandler {
  return (_req, res, next) => {
    if (!shutdown?.aborted) return next();
    res.set("Connection", "close");
    next(new ApiError("unavailable", "this API process is shutting down; retry", [], { "Retry-After": "1" }));
  };
}
