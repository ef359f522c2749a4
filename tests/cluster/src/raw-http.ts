import { randomBytes } from "node:crypto";
import { request } from "node:http";

export interface RawHttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawHttpRequest {
  method: string;
  /** Sent byte for byte (fetch and URL would normalise it): any character from 0x21 to 0xff. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Ask for a WebSocket upgrade; an accepted one resolves with status 101 and is closed at once. */
  upgrade?: boolean;
}

/** One HTTP request with the request target exactly as given: for malformed paths and fuzzing. */
export function rawHttp(baseUrl: string, req: RawHttpRequest, timeoutMs = 10_000): Promise<RawHttpResponse> {
  const { hostname, port } = new URL(baseUrl);
  const upgradeHeaders = req.upgrade
    ? {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
      }
    : {};
  return new Promise((resolve, reject) => {
    const outgoing = request({
      hostname,
      port,
      method: req.method,
      path: req.path,
      headers: { ...upgradeHeaders, ...req.headers },
      timeout: timeoutMs,
      agent: false,
    });
    outgoing.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    outgoing.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, headers: res.headers, body: "" });
    });
    outgoing.on("timeout", () =>
      outgoing.destroy(new Error(`${req.method} ${req.path}: no answer in ${timeoutMs} ms`)),
    );
    outgoing.on("error", reject);
    outgoing.end(req.body);
  });
}
