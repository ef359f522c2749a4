import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";

/** The ADMIN_TOKEN the API tests start their clusters with (users and keys are made over the admin API). */
export const ADMIN_TOKEN = "cluster-test-admin-token-0123456789";

export interface Tenant {
  userId: string;
  /** The API key's secret, as a service would hold it. */
  key: string;
  keyId: string;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body; null when it is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
}

export interface RawRequest {
  method: string;
  path: string;
  /** API key (or admin token) sent as a bearer header; none when undefined. */
  key?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (for malformed or oversized bodies); `headers` should name its content type. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** Event streams: resolve once the status is known and drop the connection. */
  stream?: boolean;
}

/** One HTTP call with everything an assertion may need: status, headers and the raw text. */
export async function send(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(request.key ? { authorization: `Bearer ${request.key}` } : {}) };
  let body: string | Buffer | undefined = request.rawBody;
  if (request.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(request.body);
  }
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: { ...headers, ...request.headers },
    body,
    signal: abort.signal,
  });
  if (request.stream && res.ok) {
    abort.abort();
    return { status: res.status, headers: res.headers, text: "", json: null };
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A new user and an API key for them, made as an operator would (the admin API). */
export async function createTenant(baseUrl: string, name: string): Promise<Tenant> {
  const user = await send(baseUrl, { method: "POST", path: "/v1/admin/users", key: ADMIN_TOKEN, body: { name } });
  if (user.status !== 201) throw new Error(`create user: ${user.status} ${user.text}`);
  const userId = user.json.id as string;
  const key = await send(baseUrl, { method: "POST", path: `/v1/admin/users/${userId}/api-keys`, key: ADMIN_TOKEN });
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${key.text}`);
  return { userId, key: key.json.key as string, keyId: key.json.id as string };
}

/** The status a WebSocket upgrade request gets: 101 when accepted, else the HTTP refusal. */
export async function upgradeStatus(baseUrl: string, path: string, key?: string): Promise<number> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
