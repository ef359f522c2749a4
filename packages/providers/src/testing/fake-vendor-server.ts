import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DEFAULT_FAKE_BATCH_SETTINGS,
  type BatchRouteReply,
  type FakeBatch,
  type FakeBatchItem,
  type FakeBatchSettings,
  type FakeFile,
} from "./fake-batches.js";
import {
  resolveReply,
  type FakeReply,
  type ResolvedReply,
  type FakeResponder,
  type FakeVendorName,
  type RecordedRequest,
} from "./fake-reply.js";
import { FakePromptCache } from "./prompt-cache.js";
import { isObject, type ParsedCall, type VendorDialect } from "./vendor-dialect.js";

export interface FakeVendorServerOptions {
  /** The key the server accepts; default a random one (`fake-<vendor>-key-…`). */
  apiKey?: string;
  /** Accept any key, or none (a local OpenAI-compatible server such as Ollama). */
  keyless?: boolean;
  /** Default pause between streamed chunks, ms. Default 5. */
  chunkDelayMs?: number;
  /** Simulate the vendor's prompt cache (reads, and Anthropic's writes, in the usage). Default true. */
  promptCache?: boolean;
  /** How batches behave (OpenAI and Anthropic); default done after 100 ms, every item answered. */
  batches?: Partial<FakeBatchSettings>;
}

/** A local HTTP server speaking one vendor's API, for tests. */
export interface FakeVendorServer {
  readonly vendor: FakeVendorName;
  /** The base URL to configure a client with: OpenAI `http://127.0.0.1:P/v1`, Anthropic and Gemini `http://127.0.0.1:P`. */
  readonly url: string;
  /** `http://127.0.0.1:P`. */
  readonly origin: string;
  /** The key it accepts (any key when keyless). */
  readonly apiKey: string;
  /** Every request received, oldest first (also those answered with an error). */
  readonly requests: RecordedRequest[];
  /**
   * Every batch accepted, oldest first, with its items (OpenAI: files and batches; Anthropic:
   * message batches). Items take their replies from the script and responder as they arrive.
   */
  readonly batches: readonly FakeBatch[];
  /** Changes how batches created from now on behave (completion delay, outcome). */
  configureBatches(settings: Partial<FakeBatchSettings>): void;
  /** Forgets the requests, the script, the responder, the prompt cache, the batches and the batch settings. */
  reset(): void;
  /** Sets the default reply (used when no scripted reply is left). */
  respondWith(responder: FakeResponder): void;
  /** One-shot replies, consumed in order by the next requests; then the default again. */
  script(...replies: FakeReply[]): void;
  /** Resolves once `predicate(requests)` holds (checked as requests arrive and connections close). */
  waitFor(predicate: (requests: readonly RecordedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_CHUNK_DELAY_MS = 5;
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function flatten(system: string | undefined, messages: RecordedRequest["messages"]): string {
  const lines = system !== undefined ? [`system: ${system}`] : [];
  for (const m of messages) lines.push(`${m.role}: ${m.content}`);
  return lines.join("\n");
}

/** Starts a fake vendor server on 127.0.0.1 and a free port. */
export async function startFakeVendorServer(
  dialect: VendorDialect,
  options: FakeVendorServerOptions = {},
): Promise<FakeVendorServer> {
  const apiKey = options.apiKey ?? `fake-${dialect.vendor}-key-${randomBytes(8).toString("hex")}`;
  const defaultDelay = options.chunkDelayMs ?? DEFAULT_CHUNK_DELAY_MS;
  const requests: RecordedRequest[] = [];
  let scripted: FakeReply[] = [];
  let responder: FakeResponder | undefined;
  const promptCache = new FakePromptCache();
  const timers = new Set<NodeJS.Timeout>();
  const watchers = new Set<() => void>();
  let closing = false;
  let origin = "";
  let batchSettings: FakeBatchSettings = { ...DEFAULT_FAKE_BATCH_SETTINGS, ...options.batches };
  const batches: FakeBatch[] = [];
  const files = new Map<string, FakeFile>();

  const notify = (): void => {
    for (const watcher of [...watchers]) watcher();
  };
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  function sendError(res: ServerResponse, status: number, message: string, retryAfterSeconds?: number): void {
    const { headers, body } = dialect.errorReply(status, message, retryAfterSeconds);
    sendJson(res, status, body, headers);
  }

  async function stream(res: ServerResponse, frames: string[], delayMs: number): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.flushHeaders();
    for (let i = 0; i < frames.length; i++) {
      if (res.destroyed || closing) return;
      if (i > 0 && delayMs > 0) await pause(delayMs);
      if (res.destroyed || closing) return;
      res.write(frames[i]);
    }
    res.end();
  }

  function record(
    method: string,
    path: string,
    query: Record<string, string>,
    headers: IncomingHttpHeaders,
    body: unknown,
    parsed: ParsedCall | { invalid: string } | undefined,
  ): RecordedRequest {
    const call =
      parsed && !("invalid" in parsed) ? parsed : { model: "", stream: false, system: undefined, messages: [] };
    return {
      vendor: dialect.vendor,
      method,
      path,
      query,
      headers: { ...headers },
      body,
      model: call.model,
      stream: call.stream,
      system: call.system,
      messages: call.messages,
      prompt: flatten(call.system, call.messages),
      clientClosedEarly: false,
    };
  }

  /** The next scripted reply, else the responder's, else the default. */
  function nextReply(request: RecordedRequest): FakeReply {
    const answer = scripted.shift() ?? responder?.(request) ?? {};
    return typeof answer === "string" ? { text: answer } : answer;
  }

  function resolved(request: RecordedRequest, reply: FakeReply): ResolvedReply {
    const cached =
      options.promptCache === false
        ? { read: 0, write: 0, write1h: 0 }
        : promptCache.apply(request.model, dialect.cachePlan(request));
    return resolveReply(reply, request, cached);
  }

  /** A batch item, answered as the chat endpoint would answer it (a hang is answered normally). */
  function answerItem(path: string, body: unknown, headers: IncomingHttpHeaders): Omit<FakeBatchItem, "customId"> {
    const parsed = dialect.parse(body, path, {}, headers);
    const request = record("POST", path, {}, headers, body, parsed);
    const error = (status: number, message: string): Omit<FakeBatchItem, "customId"> => ({
      request,
      status,
      body: dialect.errorReply(status, message, undefined).body,
    });
    if ("invalid" in parsed) return error(400, parsed.invalid);
    const reply = nextReply(request);
    if (reply.status !== undefined && reply.status >= 400)
      return error(
        reply.status,
        reply.errorMessage ?? dialect.defaultErrorMessage(reply.status, { model: request.model, presentedKey: apiKey }),
      );
    return { request, status: 200, body: dialect.completion(resolved(request, reply), request) };
  }

  function sendBatchReply(res: ServerResponse, reply: BatchRouteReply): void {
    if (reply.errorMessage !== undefined) sendError(res, reply.status, reply.errorMessage);
    else if (typeof reply.body === "string") {
      res.writeHead(reply.status, { "content-type": reply.contentType ?? "text/plain" });
      res.end(reply.body);
    } else sendJson(res, reply.status, reply.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const parsed = dialect.matches(method, path) ? dialect.parse(body, path, query, req.headers) : undefined;
    const request = record(method, path, query, req.headers, body, parsed);
    requests.push(request);
    res.on("close", () => {
      if (!res.writableFinished && !closing) request.clientClosedEarly = true;
      notify();
    });
    notify();

    const presentedKey = dialect.presentedKey(req.headers, query);
    if (!options.keyless && presentedKey !== apiKey) {
      sendError(res, 401, dialect.defaultErrorMessage(401, { model: request.model, presentedKey }));
      return;
    }
    if (parsed === undefined) {
      const batchReply = dialect.batchRoutes?.(
        { method, path, raw, body, headers: req.headers },
        { origin, now: Date.now(), settings: batchSettings, batches, files, answer: answerItem },
      );
      if (batchReply) sendBatchReply(res, batchReply);
      else sendError(res, 404, dialect.defaultErrorMessage(404, { model: request.model, presentedKey }));
      return;
    }
    if ("invalid" in parsed) {
      sendError(res, 400, parsed.invalid);
      return;
    }

    const reply = nextReply(request);
    if (reply.hang) return; // the connection stays open until the client gives up or the server closes
    if (reply.status !== undefined && reply.status >= 400) {
      sendError(
        res,
        reply.status,
        reply.errorMessage ?? dialect.defaultErrorMessage(reply.status, { model: request.model, presentedKey }),
        reply.retryAfterSeconds,
      );
      return;
    }
    const answer = resolved(request, reply);
    if (parsed.stream) await stream(res, dialect.streamFrames(answer, request), reply.chunkDelayMs ?? defaultDelay);
    else sendJson(res, 200, dialect.completion(answer, request));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendError(
          res,
          500,
          `fake ${dialect.vendor} server failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    vendor: dialect.vendor,
    url: `${origin}${dialect.basePath}`,
    origin,
    apiKey,
    requests,
    reset() {
      requests.length = 0;
      scripted = [];
      responder = undefined;
      promptCache.clear();
      batches.length = 0;
      files.clear();
      batchSettings = { ...DEFAULT_FAKE_BATCH_SETTINGS, ...options.batches };
    },
    batches,
    configureBatches(settings) {
      batchSettings = { ...batchSettings, ...settings };
    },
    respondWith(next) {
      responder = next;
    },
    script(...replies) {
      scripted.push(...replies.map((r) => (isObject(r) ? { ...r } : r)));
    },
    waitFor(predicate, timeoutMs = 2000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!predicate(requests)) return;
          watchers.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(
            new Error(
              `fake ${dialect.vendor} server: condition not met within ${timeoutMs} ms (${requests.length} requests)`,
            ),
          );
        }, timeoutMs);
        watchers.add(check);
        check();
      });
    },
    async close() {
      closing = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Hanging replies and keep-alive sockets would keep close() waiting.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
