import { randomBytes } from "node:crypto";
import { openAIBatchRoutes } from "./openai-batches.js";
import type { RecordedRequest, ResolvedReply } from "./fake-reply.js";
import { textChunks } from "./fake-reply.js";
import { OPENAI_CACHE_INCREMENT } from "./prompt-cache.js";
import {
  contentText,
  bearerToken,
  headerValue,
  isObject,
  maskKey,
  sseFrame,
  type ParsedCall,
  type VendorDialect,
} from "./vendor-dialect.js";

const ERROR_TYPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: null, message: "Invalid request." },
  403: {
    type: "invalid_request_error",
    code: "unsupported_country_region_territory",
    message: "Country, region, or territory not supported",
  },
  429: {
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests. Please try again later.",
  },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!",
  },
  503: { type: "server_error", code: null, message: "The engine is currently overloaded, please try again later." },
};

const FINISH = { stop: "stop", length: "length", content_filter: "content_filter" } as const;

function usage(reply: ResolvedReply): Record<string, unknown> {
  return {
    prompt_tokens: reply.promptTokens,
    completion_tokens: reply.completionTokens,
    total_tokens: reply.promptTokens + reply.completionTokens,
    // Cache reads are part of prompt_tokens; OpenAI reports no cache writes.
    prompt_tokens_details: { cached_tokens: reply.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reply.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function parse(body: unknown): ParsedCall | { invalid: string } {
  if (!isObject(body)) return { invalid: "We could not parse the JSON body of your request." };
  if (typeof body.model !== "string" || !body.model) return { invalid: "you must provide a model parameter" };
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { invalid: "[] is too short - 'messages'" };
  const system: string[] = [];
  const messages: ParsedCall["messages"] = [];
  for (const m of body.messages as unknown[]) {
    if (!isObject(m)) continue;
    const text = contentText(m.content);
    if (m.role === "system" || m.role === "developer") system.push(text);
    else if (m.role === "user" || m.role === "assistant") messages.push({ role: m.role, content: text });
  }
  return {
    model: body.model,
    stream: body.stream === true,
    system: system.length > 0 ? system.join("\n\n") : undefined,
    messages,
  };
}

/** OpenAI Chat Completions (and so every OpenAI-compatible server). */
export const openAIDialect: VendorDialect = {
  vendor: "openai",
  basePath: "/v1",
  matches: (method, path) => method === "POST" && path === "/v1/chat/completions",
  presentedKey: (headers) => bearerToken(headerValue(headers, "authorization")),
  parse: (body) => parse(body),
  defaultErrorMessage(status, { model, presentedKey }) {
    if (status === 401) {
      return presentedKey
        ? `Incorrect API key provided: ${maskKey(presentedKey)}. You can find your API key at https://platform.openai.com/account/api-keys.`
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
    }
    if (status === 404) return `The model \`${model}\` does not exist or you do not have access to it.`;
    return ERROR_TYPES[status]?.message ?? `Request failed with status ${status}.`;
  },
  errorReply(status, message, retryAfterSeconds) {
    const kind =
      status === 401
        ? { type: "invalid_request_error", code: "invalid_api_key" }
        : status === 404
          ? { type: "invalid_request_error", code: "model_not_found" }
          : (ERROR_TYPES[status] ?? { type: status >= 500 ? "server_error" : "invalid_request_error", code: null });
    const headers: Record<string, string> = { "x-request-id": `req_${randomBytes(8).toString("hex")}` };
    if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
    return { headers, body: { error: { message, type: kind.type, param: null, code: kind.code } } };
  },
  // Automatic caching of the longest shared prefix, routed by prompt_cache_key when the request sets one.
  batchRoutes: openAIBatchRoutes,
  cachePlan: (request) => ({
    kind: "automatic",
    key:
      isObject(request.body) && typeof request.body.prompt_cache_key === "string" ? request.body.prompt_cache_key : "",
    prompt: request.prompt,
    increment: OPENAI_CACHE_INCREMENT,
  }),
  completion(reply, request) {
    return {
      id: `chatcmpl-${randomBytes(8).toString("hex")}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: reply.text, refusal: null },
          logprobs: null,
          finish_reason: FINISH[reply.finishReason],
        },
      ],
      ...(reply.reportUsage ? { usage: usage(reply) } : {}),
      system_fingerprint: "fp_fake",
    };
  },
  streamFrames(reply, request: RecordedRequest) {
    const includeUsage =
      reply.reportUsage &&
      isObject(request.body) &&
      isObject(request.body.stream_options) &&
      request.body.stream_options.include_usage === true;
    const id = `chatcmpl-${randomBytes(8).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    // With include_usage, every chunk carries `usage: null` and one last chunk (no choices) the counts.
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      sseFrame({
        id,
        object: "chat.completion.chunk",
        created,
        model: request.model,
        system_fingerprint: "fp_fake",
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      });
    const frames = [
      chunk([
        { index: 0, delta: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: null },
      ]),
    ];
    for (const piece of textChunks(reply.text)) {
      if (piece) frames.push(chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]));
    }
    frames.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: FINISH[reply.finishReason] }]));
    if (includeUsage) frames.push(chunk([], { usage: usage(reply) }));
    frames.push(sseFrame("[DONE]"));
    return frames;
  },
};
