import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  resolveReply,
  type FakeReply,
  type FakeResponder,
  type FakeVendorName,
  type RecordedRequest,
} from "./fake-reply.js";
import { FakePromptCache } from "./prompt-cache.js";
import { isObject, type VendorDialect } from "./vendor-dialect.js";

export interface FakeVendorServerOptions {
  /** The key the server accepts; default a random one (`fake-<vendor>-key-…`). */
  apiKey?: string;
  /** Accept any key, or none (a local OpenAI-compatible server such as Ollama). */
  keyless?: boolean;
  /** Default pause between streamed chunks, ms. Default 5. */
  chunkDelayMs?: number;
  /** Simulate the vendor's prompt cache (reads, and Anthropic's writes, in the usage). Default true. */
  promptCache?: boolean;
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
  /** Forgets the requests, the script, the responder and the prompt cache. */
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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const parsed = dialect.matches(req.method ?? "GET", path)
      ? dialect.parse(body, path, query, req.headers)
      : undefined;
    const call =
      parsed && !("invalid" in parsed) ? parsed : { model: "", stream: false, system: undefined, messages: [] };
    const record: RecordedRequest = {
      vendor: dialect.vendor,
      method: req.method ?? "GET",
      path,
      query,
      headers: { ...req.headers },
      body,
      model: call.model,
      stream: call.stream,
      system: call.system,
      messages: call.messages,
      prompt: flatten(call.system, call.messages),
      clientClosedEarly: false,
    };
    requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished && !closing) record.clientClosedEarly = true;
      notify();
    });
    notify();

    const presentedKey = dialect.presentedKey(req.headers, query);
    if (!options.keyless && presentedKey !== apiKey) {
      sendError(res, 401, dialect.defaultErrorMessage(401, { model: call.model, presentedKey }));
      return;
    }
    if (parsed === undefined) {
      sendError(res, 404, dialect.defaultErrorMessage(404, { model: call.model, presentedKey }));
      return;
    }
    if ("invalid" in parsed) {
      sendError(res, 400, parsed.invalid);
      return;
    }

    const next = scripted.shift();
    const answer = next ?? responder?.(record) ?? {};
    const reply: FakeReply = typeof answer === "string" ? { text: answer } : answer;
    if (reply.hang) return; // the connection stays open until the client gives up or the server closes
    if (reply.status !== undefined && reply.status >= 400) {
      sendError(
        res,
        reply.status,
        reply.errorMessage ?? dialect.defaultErrorMessage(reply.status, { model: call.model, presentedKey }),
        reply.retryAfterSeconds,
      );
      return;
    }
    const cached =
      options.promptCache === false
        ? { read: 0, write: 0, write1h: 0 }
        : promptCache.apply(call.model, dialect.cachePlan(record));
    const resolved = resolveReply(reply, record, cached);
    if (call.stream) await stream(res, dialect.streamFrames(resolved, record), reply.chunkDelayMs ?? defaultDelay);
    else sendJson(res, 200, dialect.completion(resolved, record));
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
  const origin = `http://127.0.0.1:${port}`;

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
