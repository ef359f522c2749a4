import type { IncomingHttpHeaders } from "node:http";
import type { FakeVendorName, RecordedRequest, ResolvedReply } from "./fake-reply.js";
import type { BatchRoutes } from "./fake-batches.js";
import type { CachePlan } from "./prompt-cache.js";

/** The parts of a request a dialect reads from its vendor's wire format. */
export interface ParsedCall {
  model: string;
  stream: boolean;
  system: string | undefined;
  messages: RecordedRequest["messages"];
}

export interface DialectErrorReply {
  headers?: Record<string, string>;
  body: unknown;
}

/** How one vendor's API looks on the wire: routes, auth, request and reply shapes, error bodies. */
export interface VendorDialect {
  vendor: FakeVendorName;
  /** What clients append to the server's origin as their base URL (OpenAI: `/v1`). */
  basePath: string;
  /** Whether (method, path) is the vendor's chat endpoint. */
  matches(method: string, path: string): boolean;
  /** The API key the client presented, if any. */
  presentedKey(headers: IncomingHttpHeaders, query: Record<string, string>): string | undefined;
  /** Reads the call, or says what is wrong with it (answered with a 400 in the vendor's format). */
  parse(
    body: unknown,
    path: string,
    query: Record<string, string>,
    headers: IncomingHttpHeaders,
  ): ParsedCall | { invalid: string };
  /** The vendor's message for an error status when the reply gives none. */
  defaultErrorMessage(status: number, request: { model: string; presentedKey: string | undefined }): string;
  errorReply(status: number, message: string, retryAfterSeconds: number | undefined): DialectErrorReply;
  /** Which prefixes of a valid request the vendor's prompt cache reads and writes. */
  cachePlan(request: RecordedRequest): CachePlan;
  completion(reply: ResolvedReply, request: RecordedRequest): unknown;
  /** The stream as SSE frames (each ending in a blank line), sent one by one with a pause between. */
  streamFrames(reply: ResolvedReply, request: RecordedRequest): string[];
  /** The vendor's batch endpoints, if it has them. */
  batchRoutes?: BatchRoutes;
}

/** One SSE frame: `data: <json>`, optionally with an `event:` line. */
export function sseFrame(data: unknown, event?: string, eol = "\n"): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event ? `event: ${event}${eol}` : ""}data: ${payload}${eol}${eol}`;
}

/** A header's single value. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
}

/** A string or an array of text parts (`{type:"text", text}`), as OpenAI and Anthropic accept content. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string"
          ? (part as { text: string }).text
          : "",
      )
      .join("");
  }
  return "";
}

/** How a vendor shows a key it rejects: a few characters at each end, the rest masked. */
export function maskKey(key: string | undefined): string {
  if (!key) return "(none)";
  if (key.length <= 8) return "*".repeat(key.length);
  return `${key.slice(0, 3)}${"*".repeat(key.length - 7)}${key.slice(-4)}`;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
