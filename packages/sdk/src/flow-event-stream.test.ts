import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EnsembleClient } from "./ensemble-client.js";
import { EnsembleApiError } from "./errors/ensemble-api-error.js";

/** A local server speaking the events route's wire format: each test scripts its connections. */
function serve(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<{ server: Server; url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }),
    ),
  );
}

const frame = (id: number, type: string): string =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id, type, flowId: "f1", data: null, timestamp: "2026-01-01T00:00:00.000Z" })}\n\n`;

describe("streamEvents", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  it("resumes a cut connection with Last-Event-ID and ends on the server's clean end", async () => {
    const local = await serve((req, res, n) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (n === 1) {
        res.write(": heartbeat\n\n" + frame(1, "flow_start") + frame(2, "step_start"));
        setTimeout(() => res.destroy(), 50); // the connection drops mid-flow
      } else {
        res.end(frame(2, "step_start") + frame(3, "flow_complete")); // 2 again: must not be delivered twice
      }
    });
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const seen: number[] = [];
    for await (const event of client.streamEvents("f1", { lastEventId: 0 })) seen.push(event.id);
    expect(seen).toEqual([1, 2, 3]);
    expect(local.requests.map((r) => r.headers["last-event-id"])).toEqual(["0", "2"]);
    expect(local.requests[0]!.headers.authorization).toBe("Bearer ens_k");
  });

  it("comes back after a `retry:` hint without data (a server going away), where the old parser ended", async () => {
    const local = await serve((_req, res, n) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (n === 1)
        res.end(frame(1, "flow_start") + "retry: 20\n\n"); // shutting down: come back in 20 ms
      else res.end(frame(2, "flow_complete"));
    });
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const seen: number[] = [];
    for await (const event of client.streamEvents("f1")) seen.push(event.id);
    expect(seen).toEqual([1, 2]);
    expect(local.requests.map((r) => r.headers["last-event-id"])).toEqual(["0", "1"]);
  });

  it("parses events split anywhere across chunks, CRLF line ends included", async () => {
    const wire = frame(1, "flow_start").replace(/\n/g, "\r\n") + frame(2, "flow_complete");
    const local = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let at = 0;
      const timer = setInterval(() => {
        res.write(wire.slice(at, at + 7));
        at += 7;
        if (at >= wire.length) {
          clearInterval(timer);
          res.end();
        }
      }, 1);
    });
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const seen: string[] = [];
    for await (const event of client.streamEvents("f1")) seen.push(`${event.id}:${event.type}`);
    expect(seen).toEqual(["1:flow_start", "2:flow_complete"]);
  });

  it("ends at once on 204 (the flow is over and nothing is newer than lastEventId)", async () => {
    const local = await serve((_req, res) => res.writeHead(204).end());
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const seen: number[] = [];
    for await (const event of client.streamEvents("f1", { lastEventId: 9 })) seen.push(event.id);
    expect(seen).toEqual([]);
  });

  it("does not retry a 404 and surfaces it as EnsembleApiError", async () => {
    const local = await serve((_req, res) =>
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "not_found", message: "flow not found", details: [] } })),
    );
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const iterate = async (): Promise<void> => {
      for await (const _ of client.streamEvents("f1")) void _;
    };
    await expect(iterate()).rejects.toMatchObject({
      name: "EnsembleApiError",
      status: 404,
      code: "not_found",
      message: "flow not found",
    });
    await expect(iterate()).rejects.toBeInstanceOf(EnsembleApiError);
    expect(local.requests).toHaveLength(2);
  });

  it("retries 503 after Retry-After, then gives up after maxReconnects", async () => {
    const local = await serve((_req, res) =>
      res
        .writeHead(503, { "retry-after": "0", "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "unavailable", message: "queue down", details: [] } })),
    );
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    const iterate = async (): Promise<void> => {
      for await (const _ of client.streamEvents("f1", { maxReconnects: 2 })) void _;
    };
    await expect(iterate()).rejects.toMatchObject({ status: 503, code: "unavailable" });
    expect(local.requests).toHaveLength(3);
  });

  it("closes the connection when the caller stops iterating", async () => {
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const local = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(frame(1, "flow_start"));
      res.on("close", closed);
    });
    server = local.server;
    const client = new EnsembleClient({ baseUrl: local.url, apiKey: "ens_k" });
    for await (const event of client.streamEvents("f1")) {
      expect(event.type).toBe("flow_start");
      break;
    }
    await connectionClosed;
  });
});
