import { randomBytes } from "node:crypto";
import type { ResolvedReply } from "./fake-reply.js";
import { textChunks } from "./fake-reply.js";
import { headerValue, isObject, sseFrame, type ParsedCall, type VendorDialect } from "./vendor-dialect.js";

const ROUTE = /^\/[^/]+\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

const STATUSES: Record<number, { status: string; message: string }> = {
  400: { status: "INVALID_ARGUMENT", message: "Request contains an invalid argument." },
  401: { status: "UNAUTHENTICATED", message: "API key not valid. Please pass a valid API key." },
  403: { status: "PERMISSION_DENIED", message: "The caller does not have permission" },
  404: { status: "NOT_FOUND", message: "Requested entity was not found." },
  429: {
    status: "RESOURCE_EXHAUSTED",
    message: "You exceeded your current quota, please check your plan and billing details.",
  },
  500: {
    status: "INTERNAL",
    message:
      "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  },
  503: { status: "UNAVAILABLE", message: "The model is overloaded. Please try again later." },
};

const FINISH = { stop: "STOP", length: "MAX_TOKENS", content_filter: "SAFETY" } as const;

/** Gemini counts thinking apart from candidatesTokenCount; cached content is part of the prompt. */
function usageMetadata(reply: ResolvedReply): Record<string, unknown> {
  const candidates = Math.max(0, reply.completionTokens - reply.reasoningTokens);
  return {
    promptTokenCount: reply.promptTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: reply.promptTokens + reply.completionTokens,
    ...(reply.cachedTokens > 0 ? { cachedContentTokenCount: reply.cachedTokens } : {}),
    ...(reply.reasoningTokens > 0 ? { thoughtsTokenCount: reply.reasoningTokens } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: reply.promptTokens }],
  };
}

function partsText(content: unknown): string {
  if (!isObject(content) || !Array.isArray(content.parts)) return typeof content === "string" ? content : "";
  return content.parts.map((p) => (isObject(p) && typeof p.text === "string" ? p.text : "")).join("");
}

function parse(body: unknown, path: string): ParsedCall | { invalid: string } {
  const route = ROUTE.exec(path);
  if (!route) return { invalid: "Invalid path." };
  if (!isObject(body)) return { invalid: "Invalid JSON payload received." };
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    return { invalid: "* GenerateContentRequest.contents: contents is not specified" };
  const messages: ParsedCall["messages"] = [];
  for (const c of body.contents as unknown[]) {
    const role = isObject(c) ? c.role : undefined;
    if (role !== undefined && role !== "user" && role !== "model")
      return { invalid: `Please use a valid role: user, model.` };
    messages.push({ role: role === "model" ? "assistant" : "user", content: partsText(c) });
  }
  const system = body.systemInstruction === undefined ? undefined : partsText(body.systemInstruction);
  return {
    model: decodeURIComponent(route[1] as string),
    stream: route[2] === "streamGenerateContent",
    system,
    messages,
  };
}

function response(
  request: { model: string },
  responseId: string,
  text: string,
  finish?: string,
  usage?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    candidates: [
      { content: { parts: [{ text }], role: "model" }, ...(finish ? { finishReason: finish } : {}), index: 0 },
    ],
    ...(usage ? { usageMetadata: usage } : {}),
    modelVersion: request.model,
    responseId,
  };
}

/** Gemini's generateContent and streamGenerateContent (`?alt=sse`). */
export const geminiDialect: VendorDialect = {
  vendor: "google",
  basePath: "",
  matches: (method, path) => method === "POST" && ROUTE.test(path),
  presentedKey: (headers, query) => headerValue(headers, "x-goog-api-key") ?? query.key,
  parse: (body, path) => parse(body, path),
  defaultErrorMessage(status, { model }) {
    if (status === 404)
      return `models/${model} is not found for API version v1, or is not supported for generateContent.`;
    return STATUSES[status]?.message ?? `Request failed with status ${status}.`;
  },
  errorReply(status, message, retryAfterSeconds) {
    const details: unknown[] = [];
    if (status === 401)
      details.push({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "API_KEY_INVALID",
        domain: "googleapis.com",
      });
    // Google says how long to wait in the body, not in a Retry-After header.
    if (retryAfterSeconds !== undefined)
      details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfterSeconds}s` });
    const status_ = STATUSES[status]?.status ?? (status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION");
    return { body: { error: { code: status, message, status: status_, ...(details.length > 0 ? { details } : {}) } } };
  },
  // Implicit caching: the longest prefix shared with an earlier prompt to the same model.
  cachePlan: (request) => ({ kind: "automatic", key: "", prompt: request.prompt, increment: 1 }),
  completion(reply, request) {
    return response(
      request,
      randomBytes(8).toString("hex"),
      reply.text,
      FINISH[reply.finishReason],
      usageMetadata(reply),
    );
  },
  streamFrames(reply, request) {
    const id = randomBytes(8).toString("hex");
    const pieces = textChunks(reply.text);
    // Each event is a whole response with the next piece; the last has the finish reason and the usage.
    return pieces.map((piece, i) => {
      const last = i === pieces.length - 1;
      return sseFrame(
        response(
          request,
          id,
          piece,
          last ? FINISH[reply.finishReason] : undefined,
          last ? usageMetadata(reply) : undefined,
        ),
        undefined,
        "\r\n",
      );
    });
  },
};
