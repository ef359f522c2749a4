import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { pino } from "pino";
import { ApiError } from "./api-error.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { jsonBody } from "./json-body.js";

// The error path of every kind of failure, through Express as the API wires it: the body
// is always the contract's shape, and never a stack, an internal message or a secret.

describe("error handler", () => {
  let server: Server;
  let baseUrl: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(jsonBody(1_024));
    app.post("/echo", (req, res) => {
      res.json(req.body ?? {});
    });
    app.get("/sync-throw", () => {
      throw new Error("connect to postgres://admin:hunter2@db failed");
    });
    app.get("/async-throw", async () => {
      await Promise.resolve();
      throw new TypeError("Cannot read properties of undefined (reading 'secretToken')");
    });
    app.get("/api-error", () => {
      throw new ApiError("conflict", "flow is running", [{ flowId: "f" }]);
    });
    app.get("/items/:id", (req, res) => {
      res.json({ id: req.params.id });
    });
    app.get("/stream-then-throw", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      throw new Error("stream broke with token=abc123");
    });
    app.use(notFoundHandler);
    app.use(errorHandler(pino({ level: "error" }, { write: (line: string) => void logLines.push(line) })));
    server = app.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = async (
    path: string,
    init: RequestInit = {},
  ): Promise<{ status: number; text: string; body: unknown }> => {
    const res = await fetch(`${baseUrl}${path}`, init);
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as unknown };
  };
  const post = (
    body: string,
    headers: Record<string, string> = { "content-type": "application/json" },
  ): RequestInit => ({ method: "POST", body, headers });

  it.each([
    ["/sync-throw", "hunter2"],
    ["/async-throw", "secretToken"],
  ])("answers an unexpected error in %s with a bare 500 and logs it", async (path, secret) => {
    const res = await call(path);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { code: "internal", message: "something went wrong on our side; it has been logged", details: [] },
    });
    expect(res.text).not.toContain(secret);
    expect(logLines.some((line) => line.includes('"request failed"') && line.includes(path))).toBe(true);
  });

  it("keeps an ApiError's code, message and details", async () => {
    expect(await call("/api-error")).toMatchObject({
      status: 409,
      body: { error: { code: "conflict", message: "flow is running", details: [{ flowId: "f" }] } },
    });
  });

  it("maps body-parser's and the router's errors to 4xx without quoting the request", async () => {
    const malformed = await call("/echo", post('{"a": "CANARY'));
    expect(malformed).toMatchObject({
      status: 400,
      body: { error: { code: "validation_error", details: [{ path: "", message: "malformed JSON" }] } },
    });
    expect(malformed.text).not.toContain("CANARY");
    expect(await call("/echo", post(JSON.stringify({ a: "x".repeat(2_000) })))).toMatchObject({
      status: 413,
      body: { error: { code: "payload_too_large", details: [{ path: "", message: "at most 1024 bytes" }] } },
    });
    expect(await call("/echo", post("{}", { "content-type": "application/json; charset=latin1" }))).toMatchObject({
      status: 415,
      body: { error: { code: "unsupported_media_type" } },
    });
    expect(await call("/echo", post("a=1", { "content-type": "application/x-www-form-urlencoded" }))).toMatchObject({
      status: 415,
      body: {
        error: {
          code: "unsupported_media_type",
          details: [{ path: "Content-Type", message: "must be application/json" }],
        },
      },
    });
    expect(await call("/items/%E0%A4%A")).toMatchObject({ status: 400, body: { error: { code: "validation_error" } } });
    expect(await call("/nowhere")).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });

  it("accepts an empty POST without a content type, and JSON whatever its charset parameter says in UTF-8", async () => {
    expect(await call("/echo", { method: "POST" })).toMatchObject({ status: 200, body: {} });
    expect(await call("/echo", post('{"a":1}', { "content-type": "application/json; charset=utf-8" }))).toMatchObject({
      status: 200,
      body: { a: 1 },
    });
  });

  it("cuts a response whose headers already went out instead of writing a stack into it", async () => {
    const outcome = await fetch(`${baseUrl}/stream-then-throw`)
      .then((res) => res.text())
      .catch(() => "(connection cut)");
    expect(outcome).not.toMatch(/Error|abc123|\bat\b/);
    expect((await call("/api-error")).status).toBe(409); // and the server goes on serving
  });
});
