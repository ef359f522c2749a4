import { randomBytes } from "node:crypto";
import {
  batchPhase,
  errorRoute,
  jsonl,
  type BatchRouteContext,
  type BatchRoutes,
  type FakeBatch,
} from "./fake-batches.js";
import { isObject } from "./vendor-dialect.js";

const MESSAGES_PATH = "/v1/messages";
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const WINDOW_MS = 24 * 60 * 60 * 1000;

const iso = (ms: number): string => new Date(ms).toISOString();

type ItemResult =
  | { type: "succeeded"; message: unknown }
  | { type: "errored"; error: unknown }
  | { type: "canceled" }
  | { type: "expired" };

/** Each item's result once the batch has ended. */
function results(batch: FakeBatch): { custom_id: string; result: ItemResult }[] {
  return batch.items.map((item) => {
    let result: ItemResult;
    if (batch.cancelledAt !== undefined) result = { type: "canceled" };
    else if (batch.outcome === "expired") result = { type: "expired" };
    else if (batch.outcome === "failed")
      result = {
        type: "errored",
        error: { type: "error", error: { type: "api_error", message: "Internal server error" } },
      };
    else if (item.status >= 400) result = { type: "errored", error: item.body };
    else result = { type: "succeeded", message: item.body };
    return { custom_id: item.customId, result };
  });
}

function batchObject(batch: FakeBatch, context: BatchRouteContext): Record<string, unknown> {
  const phase = batchPhase(batch, context.now);
  const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
  if (phase === "ended") for (const { result } of results(batch)) counts[result.type] += 1;
  else counts.processing = batch.items.length;
  const endedAt = batch.cancelledAt !== undefined ? batch.cancelledAt + 1 : batch.readyAt;
  return {
    id: batch.id,
    type: "message_batch",
    processing_status: phase === "cancelling" ? "canceling" : phase,
    request_counts: counts,
    ended_at: phase === "ended" ? iso(endedAt) : null,
    created_at: iso(batch.createdAt),
    expires_at: iso(batch.createdAt + WINDOW_MS),
    archived_at: null,
    cancel_initiated_at: batch.cancelledAt !== undefined ? iso(batch.cancelledAt) : null,
    results_url: phase === "ended" ? `${context.origin}/v1/messages/batches/${batch.id}/results` : null,
  };
}

/** Anthropic's Message Batches API: create, retrieve, cancel, and the results as JSONL. */
export const anthropicBatchRoutes: BatchRoutes = (request, context) => {
  const { method, path, body, headers } = request;
  if (method === "POST" && path === "/v1/messages/batches") {
    if (!isObject(body) || !Array.isArray(body.requests) || body.requests.length === 0)
      return errorRoute(400, "requests: at least one request is required");
    const seen = new Set<string>();
    const batch: FakeBatch = {
      id: `msgbatch_${randomBytes(12).toString("hex")}`,
      createdAt: context.now,
      readyAt: context.now + context.settings.completionDelayMs,
      outcome: context.settings.outcome,
      cancelledAt: undefined,
      items: [],
      meta: {},
    };
    for (const [i, entry] of (body.requests as unknown[]).entries()) {
      const customId = isObject(entry) ? entry.custom_id : undefined;
      if (typeof customId !== "string" || !CUSTOM_ID.test(customId))
        return errorRoute(400, `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      if (seen.has(customId)) return errorRoute(400, `requests: custom_id ${customId} is used more than once`);
      seen.add(customId);
      const params = isObject(entry) ? entry.params : undefined;
      // Params are checked as each request runs: a bad one errors on its own, as the API does.
      batch.items.push({ customId, ...context.answer(MESSAGES_PATH, params, headers) });
    }
    context.batches.push(batch);
    return { status: 200, body: batchObject(batch, context) };
  }
  const match = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(path);
  if (!match) return undefined;
  const batch = context.batches.find((b) => b.id === match[1]);
  if (!batch) return errorRoute(404, `message_batch_id: no batch ${match[1]}`);
  const phase = batchPhase(batch, context.now);
  if (method === "GET" && !match[2]) return { status: 200, body: batchObject(batch, context) };
  if (method === "POST" && match[2] === "/cancel") {
    if (phase === "ended" && batch.cancelledAt === undefined)
      return errorRoute(400, `Batch ${batch.id} has already ended and cannot be canceled.`);
    batch.cancelledAt ??= context.now;
    return { status: 200, body: batchObject(batch, context) };
  }
  if (method === "GET" && match[2] === "/results") {
    if (phase !== "ended") return errorRoute(400, `Batch ${batch.id} is still processing; its results are not ready.`);
    return { status: 200, body: jsonl(results(batch)), contentType: "application/binary" };
  }
  return undefined;
};
