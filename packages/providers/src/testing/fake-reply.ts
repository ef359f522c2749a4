import { fakeTokens, type CacheOutcome } from "./prompt-cache.js";

/** The vendors the fake servers imitate. */
export type FakeVendorName = "openai" | "anthropic" | "google";

/** Token counts a fake reply reports; each defaults to an estimate (4 characters per token). */
export interface FakeUsage {
  promptTokens?: number;
  completionTokens?: number;
  /**
   * Part of promptTokens read from the prompt cache (sent in each vendor's own field); default
   * what the server's simulated cache serves (see prompt-cache.ts).
   */
  cachedTokens?: number;
  /** Part of promptTokens written to the prompt cache (reported by Anthropic only); default simulated. */
  cacheWriteTokens?: number;
  /** Of cacheWriteTokens, those written as 1-hour entries; default simulated. */
  cacheWrite1hTokens?: number;
  /** Part of completionTokens spent on reasoning (sent in each vendor's own field). */
  reasoningTokens?: number;
}

/** What a fake server answers to one request. Every field is optional: `{}` is the default reply. */
export interface FakeReply {
  /** The answer text; default `Reply from <model>: <last user message>`. Streamed in word-sized chunks. */
  text?: string;
  /** null: report no usage at all, as some OpenAI-compatible servers do (OpenAI dialect only). */
  usage?: FakeUsage | null;
  /** How the answer ended; default `stop`. */
  finishReason?: "stop" | "length" | "content_filter";
  /** An HTTP error status (≥ 400): the reply is the vendor's error body instead of an answer. */
  status?: number;
  /** With an error status: `Retry-After` (Gemini: a RetryInfo `retryDelay` in the body, as Google sends it). */
  retryAfterSeconds?: number;
  /** With an error status: the vendor's error message; default a message like the vendor's own. */
  errorMessage?: string;
  /** Accept the request and never answer (the client must time out or abort). */
  hang?: boolean;
  /** Pause between streamed chunks, ms; default the server's (5 ms). */
  chunkDelayMs?: number;
}

/** One request a fake server received, as plain data. */
export interface RecordedRequest {
  vendor: FakeVendorName;
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  query: Record<string, string>;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: unknown;
  /** The model asked for (from the body, or Gemini's path). */
  model: string;
  /** Whether the client asked for a stream. */
  stream: boolean;
  /** The system prompt as the vendor received it (OpenAI system messages, Anthropic `system`, Gemini `systemInstruction`). */
  system: string | undefined;
  /** The conversation, with vendor roles mapped back to `user` / `assistant`. */
  messages: { role: "user" | "assistant"; content: string }[];
  /** System prompt and messages flattened to one text, one `role: content` line each. */
  prompt: string;
  /** True once the client closed the connection before the reply was complete (an abort, a timeout). */
  clientClosedEarly: boolean;
}

/** Decides the default reply; return a string for `{ text }`. */
export type FakeResponder = (request: RecordedRequest) => string | FakeReply;

/** The default answer text: deterministic from the request. */
export function defaultFakeText(request: RecordedRequest): string {
  const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
  return `Reply from ${request.model}: ${lastUser?.content ?? ""}`;
}

/** A reply with every count settled, as the vendor dialects render it. */
export interface ResolvedReply {
  text: string;
  finishReason: "stop" | "length" | "content_filter";
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  reportUsage: boolean;
}

export function resolveReply(reply: FakeReply, request: RecordedRequest, cache: CacheOutcome): ResolvedReply {
  const text = reply.text ?? defaultFakeText(request);
  return {
    text,
    finishReason: reply.finishReason ?? "stop",
    promptTokens: reply.usage?.promptTokens ?? fakeTokens(request.prompt),
    completionTokens: reply.usage?.completionTokens ?? fakeTokens(text),
    cachedTokens: reply.usage?.cachedTokens ?? cache.read,
    cacheWriteTokens: reply.usage?.cacheWriteTokens ?? cache.write,
    cacheWrite1hTokens: reply.usage?.cacheWrite1hTokens ?? cache.write1h,
    reasoningTokens: reply.usage?.reasoningTokens ?? 0,
    reportUsage: reply.usage !== null,
  };
}

/** Word-sized pieces that join back to the text exactly (at least one, possibly empty). */
export function textChunks(text: string): string[] {
  const pieces = text.match(/\s*\S+|\s+/g);
  return pieces && pieces.length > 0 ? pieces : [""];
}
