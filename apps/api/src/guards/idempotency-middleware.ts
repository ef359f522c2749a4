import type { RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { ApiError } from "../http/api-error.js";
import { CLAIM_LEASE_MS, type IdempotencyClaim, type IdempotencyStore } from "./idempotency-store.js";
import { requestFingerprint } from "./request-fingerprint.js";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Printable ASCII, no spaces: UUIDs, ULIDs and the like. */
const KEY_PATTERN = /^[\x21-\x7E]{1,255}$/;
/** A duplicate that arrives while the first request runs waits this long for its answer, then gets 409. */
const IN_FLIGHT_WAIT_MS = 5_000;
const POLL_MS = 100;

/**
 * `Idempotency-Key` on a route (after `authenticate`): the first request with a key runs;
 * a repeat with the same key and the same request (path, query, canonical body) gets the
 * first answer (status and body, header `Idempotent-Replayed: true`) and starts nothing;
 * the same key with another request is 409. Keys are scoped per user and `route`.
 * Only 2xx answers are kept: after an error the key is free again.
 */
export function idempotency(store: IdempotencyStore, route: string, logger: Logger): RequestHandler {
  return async (req, res, next) => {
    const idempotencyKey = req.get(IDEMPOTENCY_HEADER);
    if (idempotencyKey === undefined) {
      next();
      return;
    }
    if (!KEY_PATTERN.test(idempotencyKey)) {
      throw new ApiError("validation_error", "the request is invalid", [
        {
          path: IDEMPOTENCY_HEADER,
          message: "must be 1 to 255 printable ASCII characters without spaces (a UUID, say)",
        },
      ]);
    }
    const key = store.keyFor(req.userId as string, route, idempotencyKey);
    const fingerprint = requestFingerprint({ path: req.path, query: req.query, body: req.body });
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (;;) {
      const result = await store.claim(key, fingerprint);
      if (result.claimed) {
        keepAnswer(store, result.claim, res, logger);
        next();
        return;
      }
      const { record } = result;
      if (record.fingerprint !== fingerprint) {
        throw new ApiError(
          "conflict",
          `this ${IDEMPOTENCY_HEADER} was used with a different request; use a new key for a new request`,
          [{ path: IDEMPOTENCY_HEADER, reason: "key_reused", message: "was used with another path, query or body" }],
        );
      }
      if (record.state === "done") {
        res.status(record.status).set("Idempotent-Replayed", "true").type("application/json").send(record.body);
        return;
      }
      if (Date.now() >= deadline) {
        throw new ApiError(
          "conflict",
          `a request with this ${IDEMPOTENCY_HEADER} is still in progress; retry to get its answer`,
          [
            {
              path: IDEMPOTENCY_HEADER,
              reason: "in_progress",
              message: "the first request with this key has not finished",
            },
          ],
          { "Retry-After": "1" },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
}

/**
 * Holds the claim while the route runs, then keeps its JSON answer (2xx) or frees the key
 * (anything else). The answer is stored before it is sent, so a client that retries the
 * moment it hears back is answered from the store.
 */
function keepAnswer(store: IdempotencyStore, claim: IdempotencyClaim, res: Response, logger: Logger): void {
  const heartbeat = setInterval(() => {
    store.extend(claim).catch((err: unknown) => logger.warn({ err }, "could not extend an idempotency claim"));
  }, CLAIM_LEASE_MS / 3);
  heartbeat.unref();
  let settled = false;
  const send = res.json.bind(res);
  res.json = (body: unknown) => {
    if (settled) return send(body);
    settled = true;
    clearInterval(heartbeat);
    const status = res.statusCode;
    const stored =
      status >= 200 && status < 300 ? store.complete(claim, status, JSON.stringify(body)) : store.release(claim);
    void stored
      .catch((err: unknown) =>
        logger.warn(
          { err, status },
          "could not record an idempotent answer; the key frees itself when its claim lapses",
        ),
      )
      .then(() => {
        try {
          send(body);
        } catch (err) {
          logger.error({ err }, "could not send an idempotent answer");
        }
      });
    return res;
  };
  // A route that answered without JSON (none of the idempotent routes do today): free the key.
  res.on("finish", () => {
    if (settled) return;
    settled = true;
    clearInterval(heartbeat);
    store.release(claim).catch((err: unknown) => logger.warn({ err }, "could not release an idempotency key"));
  });
}
