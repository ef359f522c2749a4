import { fillPath, type ContractResult, type ContractRoute, type PathParams, type RequestBody } from "@ensemble/core";
import { EnsembleConnectionError } from "./errors/ensemble-connection-error.js";
import { toEnsembleApiError } from "./errors/to-api-error.js";

export interface HttpClientOptions {
  baseUrl: string;
  apiKey: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout in ms for ordinary calls (not for waiting on a run or a stream). Default 30000. */
  timeoutMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** false: no timeout (long waits); a number overrides the client's. */
  timeoutMs?: number | false;
}

/** A call of one contract route: its body as the route's schema takes it, its query by the route's names. */
export interface CallOptions<R extends ContractRoute> extends Omit<RequestOptions, "body"> {
  body?: RequestBody<R>;
  query?: { [K in QueryNames<R>]?: string | number | undefined };
}
type QueryNames<R extends ContractRoute> =
  NonNullable<R["query"]> extends { shape: infer S } ? keyof S & string : never;

/** The API's HTTP conventions in one place: bearer key, JSON bodies, error bodies → EnsembleApiError. */
export class HttpClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: HttpClientOptions) {
    if (!options.baseUrl) throw new TypeError("EnsembleClient: baseUrl is required (e.g. http://localhost:3000)");
    if (!options.apiKey) throw new TypeError("EnsembleClient: apiKey is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A JSON request; resolves with the parsed body (undefined for 204), rejects with EnsembleApiError or EnsembleConnectionError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    if (!res.ok) throw toEnsembleApiError(res.status, text, res.headers.get("retry-after"));
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Calls a route of the contract; the answer is typed by the route's response schemas. */
  async call<R extends ContractRoute>(
    route: R,
    params: PathParams<R["path"]>,
    options: CallOptions<R> = {},
  ): Promise<ContractResult<R>> {
    const { query, ...rest } = options;
    const search = new URLSearchParams();
    const entries = Object.entries<string | number | undefined>(query ?? {});
    for (const [key, value] of entries) if (value !== undefined) search.set(key, String(value));
    const path = fillPath(route.path, params) + (search.size > 0 ? `?${search.toString()}` : "");
    return (await this.request(route.method.toUpperCase(), path, rest)) as ContractResult<R>;
  }

  /** Opens a response to read as a stream (SSE); non-2xx statuses reject like `request`. */
  async stream(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const res = await this.send("GET", path, {
      headers: { accept: "text/event-stream", ...headers },
      timeoutMs: false,
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw toEnsembleApiError(res.status, await res.text(), res.headers.get("retry-after"));
    return res;
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : options.timeoutMs;
    const signals = [options.signal, timeoutMs === false ? undefined : AbortSignal.timeout(timeoutMs)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, ...options.headers };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await this.fetchImpl(url, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      });
    } catch (err) {
      // The caller's own abort stays an AbortError; anything else is a connection problem.
      if (options.signal?.aborted) throw options.signal.reason;
      const timedOut = err instanceof Error && err.name === "TimeoutError";
      throw new EnsembleConnectionError(
        timedOut
          ? `${method} ${path}: no answer within ${String(timeoutMs)} ms`
          : `${method} ${path}: cannot reach ${this.baseUrl}`,
        url,
        { cause: err },
      );
    }
  }
}
