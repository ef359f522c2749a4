import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  batchPhase,
  errorRoute,
  jsonl,
  type BatchRouteContext,
  type BatchRouteReply,
  type BatchRoutes,
  type FakeBatch,
  type FakeBatchItem,
  type FakeFile,
} from "./fake-batches.js";
import { headerValue, isObject } from "./vendor-dialect.js";

const BATCH_ENDPOINT = "/v1/chat/completions";
const WINDOW_SECONDS = 24 * 60 * 60;

interface FormPart {
  name: string;
  filename: string | undefined;
  content: string;
}

/** The parts of a multipart/form-data body (how the SDK uploads a file). */
function formParts(raw: string, headers: IncomingHttpHeaders): FormPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(headerValue(headers, "content-type") ?? "");
  const marker = boundary?.[1] ?? boundary?.[2];
  if (!marker) return [];
  const parts: FormPart[] = [];
  for (const chunk of raw.split(`--${marker}`)) {
    const split = chunk.indexOf("\r\n\r\n");
    if (split < 0) continue;
    const head = chunk.slice(0, split);
    const name = /name="([^"]*)"/.exec(head)?.[1];
    if (name === undefined) continue;
    const content = chunk.slice(split + 4).replace(/\r\n$/, "");
    parts.push({ name, filename: /filename="([^"]*)"/.exec(head)?.[1], content });
  }
  return parts;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

function fileObject(file: FakeFile): Record<string, unknown> {
  return {
    id: file.id,
    object: "file",
    bytes: Buffer.byteLength(file.content),
    created_at: seconds(file.createdAt),
    filename: file.filename,
    purpose: file.purpose,
    status: "processed",
    expires_at: null,
    status_details: null,
  };
}

function addFile(context: BatchRouteContext, filename: string, purpose: string, content: string): FakeFile {
  const file = { id: `file-${randomBytes(12).toString("hex")}`, filename, purpose, createdAt: context.now, content };
  context.files.set(file.id, file);
  return file;
}

/**
 * The batch's output and error files, written once when it ends: answered items go to the
 * output file (errors included, as the API does), items it never ran to the error file.
 */
function settle(batch: FakeBatch, context: BatchRouteContext): void {
  if (batch.meta.settled) return;
  batch.meta.settled = true;
  const cancelled = batch.cancelledAt !== undefined;
  // A failed batch has no files: its errors are on the batch itself.
  if (batch.meta.failure || (batch.outcome === "failed" && !cancelled)) return;
  const unrun = cancelled || batch.outcome !== "completed";
  const line = (item: FakeBatchItem): Record<string, unknown> => ({
    id: `batch_req_${randomBytes(12).toString("hex")}`,
    custom_id: item.customId,
    response: unrun
      ? null
      : { status_code: item.status, request_id: `req_${randomBytes(8).toString("hex")}`, body: item.body },
    error: unrun
      ? cancelled
        ? { code: "batch_cancelled", message: "This request was not executed because the batch was cancelled." }
        : {
            code: "batch_expired",
            message: "This request could not be executed before the completion window expired.",
          }
      : null,
  });
  const lines = batch.items.map(line);
  const name = (kind: string): string => `batch_${batch.id}_${kind}.jsonl`;
  if (unrun) batch.meta.error_file_id = addFile(context, name("error"), "batch_output", jsonl(lines)).id;
  else batch.meta.output_file_id = addFile(context, name("output"), "batch_output", jsonl(lines)).id;
}

function batchObject(batch: FakeBatch, context: BatchRouteContext): Record<string, unknown> {
  const phase = batchPhase(batch, context.now);
  const failure = batch.meta.failure as { code: string; message: string; line: number | null } | undefined;
  if (phase === "ended") settle(batch, context);
  const cancelled = batch.cancelledAt !== undefined;
  const status =
    phase === "in_progress"
      ? "in_progress"
      : phase === "cancelling"
        ? "cancelling"
        : cancelled
          ? "cancelled"
          : failure || batch.outcome === "failed"
            ? "failed"
            : batch.outcome === "expired"
              ? "expired"
              : "completed";
  const answered = status === "completed" ? batch.items : [];
  const ok = answered.filter((item) => item.status < 400).length;
  const ended = seconds(batch.readyAt);
  return {
    id: batch.id,
    object: "batch",
    endpoint: batch.meta.endpoint,
    model: null,
    errors: failure
      ? { object: "list", data: [{ ...failure, param: null }] }
      : status === "failed"
        ? { object: "list", data: [{ code: "server_error", message: "The batch failed.", param: null, line: null }] }
        : null,
    input_file_id: batch.meta.input_file_id,
    completion_window: batch.meta.completion_window,
    status,
    output_file_id: batch.meta.output_file_id ?? null,
    error_file_id: batch.meta.error_file_id ?? null,
    created_at: seconds(batch.createdAt),
    in_progress_at: seconds(batch.createdAt),
    expires_at: seconds(batch.createdAt) + WINDOW_SECONDS,
    finalizing_at: status === "completed" ? ended : null,
    completed_at: status === "completed" ? ended : null,
    failed_at: status === "failed" ? ended : null,
    expired_at: status === "expired" ? ended : null,
    cancelling_at: cancelled ? seconds(batch.cancelledAt ?? 0) : null,
    cancelled_at: status === "cancelled" ? seconds(batch.cancelledAt ?? 0) : null,
    request_counts: {
      total: failure ? 0 : batch.items.length,
      completed: ok,
      failed: answered.length - ok,
    },
    metadata: batch.meta.metadata ?? null,
  };
}

/** Reads the uploaded JSONL into items, or says which line is wrong (the batch then fails validation). */
function readInput(
  file: FakeFile,
  headers: IncomingHttpHeaders,
  context: BatchRouteContext,
): FakeBatchItem[] | { code: string; message: string; line: number | null } {
  const items: FakeBatchItem[] = [];
  const seen = new Set<string>();
  const lines = file.content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]?.trim();
    if (!text) continue;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      return { code: "invalid_json_line", message: "This line is not parseable as valid JSON.", line: i + 1 };
    }
    if (!isObject(line) || typeof line.custom_id !== "string" || !line.custom_id)
      return { code: "missing_required_parameter", message: "Missing required parameter: 'custom_id'.", line: i + 1 };
    if (seen.has(line.custom_id))
      return {
        code: "duplicate_custom_id",
        message: "The custom_id for this request is a duplicate of another request. custom_id must be unique.",
        line: i + 1,
      };
    if (line.method !== "POST" || line.url !== BATCH_ENDPOINT)
      return {
        code: "mismatched_endpoint",
        message: `The endpoint of this request does not match the batch's endpoint (${BATCH_ENDPOINT}).`,
        line: i + 1,
      };
    seen.add(line.custom_id);
    items.push({ customId: line.custom_id, ...context.answer(BATCH_ENDPOINT, line.body, headers) });
  }
  if (items.length === 0) return { code: "empty_file", message: "The batch input file is empty.", line: null };
  return items;
}

/** OpenAI's Files and Batch APIs for Chat Completions: upload JSONL, create, poll, cancel, download. */
export const openAIBatchRoutes: BatchRoutes = (request, context) => {
  const { method, path, body } = request;
  if (method === "POST" && path === "/v1/files") {
    const parts = formParts(request.raw, request.headers);
    const purpose = parts.find((p) => p.name === "purpose")?.content;
    const upload = parts.find((p) => p.name === "file");
    if (!upload) return errorRoute(400, "Missing required parameter: 'file'.");
    if (purpose !== "batch") return errorRoute(400, `'${purpose ?? ""}' is not one of the supported purposes: batch.`);
    return {
      status: 200,
      body: fileObject(addFile(context, upload.filename ?? "upload.jsonl", purpose, upload.content)),
    };
  }
  const fileMatch = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
  if (method === "GET" && fileMatch) {
    const file = context.files.get(fileMatch[1] ?? "");
    if (!file) return errorRoute(404, `No such File object: ${fileMatch[1]}`);
    if (!fileMatch[2]) return { status: 200, body: fileObject(file) };
    return { status: 200, body: file.content, contentType: "application/octet-stream" };
  }
  if (method === "POST" && path === "/v1/batches") {
    if (!isObject(body)) return errorRoute(400, "We could not parse the JSON body of your request.");
    if (body.endpoint !== BATCH_ENDPOINT)
      return errorRoute(400, `Invalid value for 'endpoint': the fake server supports ${BATCH_ENDPOINT} only.`);
    if (body.completion_window !== "24h")
      return errorRoute(400, "Invalid value for 'completion_window': expected '24h'.");
    const file = typeof body.input_file_id === "string" ? context.files.get(body.input_file_id) : undefined;
    if (!file || file.purpose !== "batch")
      return errorRoute(400, `Invalid 'input_file_id': '${String(body.input_file_id)}'. No batch file has that id.`);
    const input = readInput(file, request.headers, context);
    const batch: FakeBatch = {
      id: `batch_${randomBytes(12).toString("hex")}`,
      createdAt: context.now,
      readyAt: context.now + context.settings.completionDelayMs,
      outcome: context.settings.outcome,
      cancelledAt: undefined,
      items: Array.isArray(input) ? input : [],
      meta: {
        endpoint: body.endpoint,
        input_file_id: file.id,
        completion_window: body.completion_window,
        metadata: isObject(body.metadata) ? body.metadata : null,
        ...(Array.isArray(input) ? {} : { failure: input }),
      },
    };
    context.batches.push(batch);
    return { status: 200, body: batchObject(batch, context) };
  }
  const batchMatch = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
  if (!batchMatch) return undefined;
  const batch = context.batches.find((b) => b.id === batchMatch[1]);
  if (!batch) return errorRoute(404, `No batch found with id '${batchMatch[1]}'.`);
  if (method === "GET" && !batchMatch[2]) return { status: 200, body: batchObject(batch, context) };
  if (method === "POST" && batchMatch[2]) return cancel(batch, context);
  return undefined;
};

function cancel(batch: FakeBatch, context: BatchRouteContext): BatchRouteReply {
  if (batchPhase(batch, context.now) === "ended" && batch.cancelledAt === undefined)
    return errorRoute(409, `Cannot cancel a batch with status '${String(batchObject(batch, context).status)}'.`);
  batch.cancelledAt ??= context.now;
  return { status: 200, body: batchObject(batch, context) };
}
