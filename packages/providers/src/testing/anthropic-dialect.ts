import { randomBytes } from "node:crypto";
import { anthropicBatchRoutes } from "./anthropic-batches.js";
import type { ResolvedReply } from "./fake-reply.js";
import type { CachePlan } from "./prompt-cache.js";
import { textChunks } from "./fake-reply.js";
import {
  bearerToken,
  contentText,
  headerValue,
  isObject,
  sseFrame,
  type ParsedCall,
  type VendorDialect,
} from "./vendor-dialect.js";

const ERROR_TYPES: Record<number, { type: string; message: string }> = {
  400: { type: "invalid_request_error", message: "Invalid request." },
  401: { type: "authentication_error", message: "invalid x-api-key" },
  403: { type: "permission_error", message: "Your API key does not have permission to use the specified resource." },
  404: { type: "not_found_error", message: "Not found." },
  413: { type: "request_too_large", message: "Request exceeds the maximum allowed number of bytes." },
  429: { type: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit." },
  500: { type: "api_error", message: "Internal server error" },
  529: { type: "overloaded_error", message: "Overloaded" },
};

const STOP = { stop: "end_turn", length: "max_tokens", content_filter: "refusal" } as const;

/**
 * Anthropic reports input_tokens without the cache reads and writes, which come in their own
 * fields; the writes also split by entry lifetime.
 */
function usage(reply: ResolvedReply): Record<string, unknown> {
  return {
    input_tokens: Math.max(0, reply.promptTokens - reply.cachedTokens - reply.cacheWriteTokens),
    cache_creation_input_tokens: reply.cacheWriteTokens,
    cache_read_input_tokens: reply.cachedTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: reply.cacheWriteTokens - reply.cacheWrite1hTokens,
      ephemeral_1h_input_tokens: reply.cacheWrite1hTokens,
    },
    output_tokens: reply.completionTokens,
    ...(reply.reasoningTokens > 0 ? { output_tokens_details: { thinking_tokens: reply.reasoningTokens } } : {}),
    service_tier: "standard",
  };
}

function blocks(content: unknown): Record<string, unknown>[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

function ttlOf(block: Record<string, unknown>): "5m" | "1h" | undefined {
  const control = block.cache_control;
  if (!isObject(control) || control.type !== "ephemeral") return undefined;
  return control.ttl === "1h" ? "1h" : "5m";
}

/**
 * The prompt up to each `cache_control` block, in the server's flattened form (`system: …`, then
 * one `role: content` line per message), so a prefix's tokens count as the prompt's do.
 */
function cacheBreakpoints(body: unknown): CachePlan {
  const breakpoints: { prefix: string; ttl: "5m" | "1h" }[] = [];
  if (!isObject(body)) return { kind: "breakpoints", breakpoints };
  let flattened = "";
  const walk = (head: string, content: unknown) => {
    let text = head;
    for (const block of blocks(content)) {
      text += typeof block.text === "string" ? block.text : "";
      const ttl = ttlOf(block);
      if (ttl) breakpoints.push({ prefix: text, ttl });
    }
    flattened = text;
  };
  if (body.system !== undefined) walk("system: ", body.system);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (isObject(m)) walk(`${flattened ? `${flattened}\n` : ""}${String(m.role)}: `, m.content);
  }
  return { kind: "breakpoints", breakpoints };
}

function parse(body: unknown, version: string | undefined): ParsedCall | { invalid: string } {
  if (!version) return { invalid: "anthropic-version: header is required" };
  if (!isObject(body)) return { invalid: "There was an issue with your request body: invalid JSON" };
  if (typeof body.model !== "string" || !body.model) return { invalid: "model: Field required" };
  if (typeof body.max_tokens !== "number") return { invalid: "max_tokens: Field required" };
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return { invalid: "messages: at least one message is required" };
  const messages: ParsedCall["messages"] = [];
  for (const m of body.messages as unknown[]) {
    if (!isObject(m) || (m.role !== "user" && m.role !== "assistant"))
      return { invalid: "messages: roles must be user or assistant" };
    messages.push({ role: m.role, content: contentText(m.content) });
  }
  const system = body.system === undefined ? undefined : contentText(body.system);
  return { model: body.model, stream: body.stream === true, system, messages };
}

/** Anthropic's Messages API. */
export const anthropicDialect: VendorDialect = {
  vendor: "anthropic",
  basePath: "",
  matches: (method, path) => method === "POST" && path === "/v1/messages",
  // API version 2026-10-21 (SDK 1.x) sends the key as a bearer token; earlier ones as x-api-key.
  presentedKey: (headers) => headerValue(headers, "x-api-key") ?? bearerToken(headerValue(headers, "authorization")),
  parse: (body, _path, _query, headers) => parse(body, headerValue(headers, "anthropic-version")),
  defaultErrorMessage(status, { model }) {
    if (status === 404) return `model: ${model}`;
    return ERROR_TYPES[status]?.message ?? `Request failed with status ${status}.`;
  },
  errorReply(status, message, retryAfterSeconds) {
    const type = ERROR_TYPES[status]?.type ?? (status >= 500 ? "api_error" : "invalid_request_error");
    const requestId = `req_${randomBytes(12).toString("hex")}`;
    const headers: Record<string, string> = { "request-id": requestId };
    if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
    return { headers, body: { type: "error", error: { type, message }, request_id: requestId } };
  },
  batchRoutes: anthropicBatchRoutes,
  cachePlan: (request) => cacheBreakpoints(request.body),
  completion(reply, request) {
    return {
      id: `msg_${randomBytes(12).toString("hex")}`,
      type: "message",
      role: "assistant",
      model: request.model,
      content: [{ type: "text", text: reply.text }],
      stop_reason: STOP[reply.finishReason],
      stop_sequence: null,
      usage: usage(reply),
    };
  },
  streamFrames(reply, request) {
    const full = usage(reply);
    // message_start carries the input counts (output so far: 1); message_delta the cumulative output.
    const startUsage = { ...full, output_tokens: 1 };
    delete (startUsage as Record<string, unknown>).output_tokens_details;
    const frames = [
      sseFrame(
        {
          type: "message_start",
          message: {
            id: `msg_${randomBytes(12).toString("hex")}`,
            type: "message",
            role: "assistant",
            model: request.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: startUsage,
          },
        },
        "message_start",
      ),
      sseFrame(
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
        "content_block_start",
      ),
      sseFrame({ type: "ping" }, "ping"),
    ];
    for (const piece of textChunks(reply.text)) {
      if (piece)
        frames.push(
          sseFrame(
            { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } },
            "content_block_delta",
          ),
        );
    }
    frames.push(sseFrame({ type: "content_block_stop", index: 0 }, "content_block_stop"));
    // Like the API, message_delta repeats the cumulative input and cache counts (not the lifetime split).
    const deltaUsage: Record<string, unknown> = {
      input_tokens: full.input_tokens,
      cache_creation_input_tokens: full.cache_creation_input_tokens,
      cache_read_input_tokens: full.cache_read_input_tokens,
      output_tokens: reply.completionTokens,
    };
    if (full.output_tokens_details) deltaUsage.output_tokens_details = full.output_tokens_details;
    frames.push(
      sseFrame(
        {
          type: "message_delta",
          delta: { stop_reason: STOP[reply.finishReason], stop_sequence: null },
          usage: deltaUsage,
        },
        "message_delta",
      ),
    );
    frames.push(sseFrame({ type: "message_stop" }, "message_stop"));
    return frames;
  },
};
