import type { IncomingHttpHeaders } from "node:http";
import type { RecordedRequest } from "./fake-reply.js";

/** How a fake batch ends once its completion delay has passed. */
export type FakeBatchOutcome = "completed" | "expired" | "failed";

export interface FakeBatchSettings {
  /** How long a batch stays in progress after it is created, ms. Default 100. */
  completionDelayMs: number;
  /**
   * `completed`: every item answered (each as a synchronous call would be, scripted replies
   * included); `expired`: none answered within the window; `failed`: the batch as a whole
   * failed (OpenAI) or every item errored (Anthropic, whose batches cannot fail as a whole).
   */
  outcome: FakeBatchOutcome;
}

export const DEFAULT_FAKE_BATCH_SETTINGS: FakeBatchSettings = { completionDelayMs: 100, outcome: "completed" };

/** One request inside a fake batch and the answer it gets if the batch completes. */
export interface FakeBatchItem {
  customId: string;
  /** The item as the server read it (path: the endpoint it names), like a synchronous request's record. */
  request: RecordedRequest;
  /** The status and body a synchronous call would have got. */
  status: number;
  body: unknown;
}

/** A batch a fake server accepted. */
export interface FakeBatch {
  id: string;
  createdAt: number;
  /** When it stops being in progress (createdAt + the completion delay then in force). */
  readyAt: number;
  outcome: FakeBatchOutcome;
  /** When a client asked to cancel it, if it did before it ended. */
  cancelledAt: number | undefined;
  items: FakeBatchItem[];
  /** Vendor details (OpenAI: the input file, endpoint and completion window; a validation failure). */
  meta: Record<string, unknown>;
}

/** Where a fake batch stands at a moment. */
export type FakeBatchPhase = "in_progress" | "cancelling" | "ended";

export function batchPhase(batch: FakeBatch, now: number): FakeBatchPhase {
  if (batch.cancelledAt !== undefined) return now > batch.cancelledAt ? "ended" : "cancelling";
  return now >= batch.readyAt ? "ended" : "in_progress";
}

/** A file a fake OpenAI server holds (uploaded batch input, or batch output and errors). */
export interface FakeFile {
  id: string;
  filename: string;
  purpose: string;
  createdAt: number;
  content: string;
}

/** What a batch route answers. */
export interface BatchRouteReply {
  status: number;
  /** JSON, or a string sent as it is with `contentType`. */
  body: unknown;
  contentType?: string;
  /** With an error status: the message, sent in the vendor's error format. */
  errorMessage?: string;
}

/** The server's side of the batch routes: its state and its one way of answering a request. */
export interface BatchRouteContext {
  origin: string;
  now: number;
  settings: FakeBatchSettings;
  batches: FakeBatch[];
  files: Map<string, FakeFile>;
  /** Answers one item as the chat endpoint would (scripted reply, responder, default). */
  answer(path: string, body: unknown, headers: IncomingHttpHeaders): Omit<FakeBatchItem, "customId">;
}

export interface BatchRouteRequest {
  method: string;
  path: string;
  /** The body as text (a multipart upload is not JSON). */
  raw: string;
  body: unknown;
  headers: IncomingHttpHeaders;
}

/** A vendor's batch endpoints: the reply, or undefined when the request is not one of them. */
export type BatchRoutes = (request: BatchRouteRequest, context: BatchRouteContext) => BatchRouteReply | undefined;

export function errorRoute(status: number, errorMessage: string): BatchRouteReply {
  return { status, body: undefined, errorMessage };
}

/** JSON Lines, as both vendors deliver batch results. */
export function jsonl(lines: readonly unknown[]): string {
  return lines.map((line) => `${JSON.stringify(line)}\n`).join("");
}
