import { connect } from "node:net";
import type { FlowStreamUpdate } from "@ensemble/core";
import { updateFlow } from "@ensemble/db";
import { archiveEvents } from "@ensemble/engine";
import { createRedisConnection } from "@ensemble/queue";
import WebSocket from "ws";
import { TestApi } from "./support/test-api.js";
import { openSse } from "./support/sse-reader.js";

/**
 * The event streams end to end: HTTP API, scheduler and step worker (in this process),
 * real Redis and Postgres, the sim provider; clients read the wire as a user would.
 */
jest.setTimeout(30_000);

describe("flow events over SSE and WebSocket", () => {
  let api: TestApi;
  let owner: { userId: string; key: string };
  let stranger: { userId: string; key: string };
  let threadId: string;

  beforeAll(async () => {
    api = await TestApi.start({ events: { heartbeatMs: 200, slowClientMs: 800 } });
    owner = await api.createUser();
    stranger = await api.createUser();
    threadId = (await api.request<{ id: string }>(owner.key, "POST", "/v1/threads", { title: "events" })).body.id;
  });
  afterAll(async () => {
    await api?.stop();
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "test-cleanup",
    });
    const keys = await redis.keys(`${api.prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const slowFlow = (steps = 4): Record<string, unknown> => ({
    name: "slow chain",
    type: "sequential",
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i + 1}`,
      provider: "sim",
      model: "slow?latencyMs=300",
      action: "generate",
      prompt: `step ${i + 1}: {{ previous }}`,
    })),
  });
  const createFlow = async (definition: Record<string, unknown> = slowFlow()): Promise<string> => {
    const res = await api.request<{ id: string }>(owner.key, "POST", "/v1/flows", { threadId, definition });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const execute = async (flowId: string, wait = false): Promise<void> => {
    const res = await api.request(owner.key, "POST", `/v1/flows/${flowId}/execute${wait ? "?wait=true" : ""}`, {
      input: "hello",
    });
    expect(res.status).toBe(wait ? 200 : 202);
  };
  const sse = (flowId: string, headers: Record<string, string> = {}, query = "") =>
    openSse(`${api.baseUrl}/v1/flows/${flowId}/events${query}`, { authorization: `Bearer ${owner.key}`, ...headers });
  const ids = (events: FlowStreamUpdate[]): number[] => events.map((e) => e.id);
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)),
    );
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  it("SSE: disconnect mid-flow, reconnect with Last-Event-ID: every event once, in order, then the stream ends", async () => {
    const flowId = await createFlow();
    const first = await sse(flowId);
    expect(first.status).toBe(200);
    await execute(flowId);
    await first.waitFor((events) => events.some((e) => e.type === "step_complete"));
    first.abort();
    const lastSeen = first.events.at(-1)!.id;
    // Events keep happening while the client is away.
    await new Promise((r) => setTimeout(r, 400));

    const second = await sse(flowId, { "last-event-id": String(lastSeen) });
    await withTimeout(second.ended, 15_000, "stream end after flow_complete");
    const all = [...first.events, ...second.events];
    expect(ids(all)).toEqual(range(1, all.length));
    expect(second.events[0]!.id).toBe(lastSeen + 1);
    expect(all[0]!.type).toBe("flow_start");
    expect(all.at(-1)!.type).toBe("flow_complete");
    expect(all.filter((e) => e.type === "step_complete").map((e) => e.stepId)).toEqual(["s1", "s2", "s3", "s4"]);
    // The SSE frame carries the same id and type as the JSON data.
    for (const [i, frame] of second.frames.entries())
      expect(frame).toEqual({ id: String(second.events[i]!.id), event: second.events[i]!.type });
    for (const e of all) expect(e).toEqual(expect.objectContaining({ flowId, timestamp: expect.any(String) }));
  });

  it("a client that joins after the flow ended gets the whole history, then the stream closes; ?lastEventId= resumes too", async () => {
    const flowId = await createFlow(slowFlow(2));
    await execute(flowId, true);
    const late = await sse(flowId);
    await withTimeout(late.ended, 5_000, "late stream end");
    expect(ids(late.events)).toEqual(range(1, late.events.length));
    const milestones = late.events
      .filter((e) => e.type !== "step_progress")
      .map((e) => `${e.type}${e.stepId ? `:${e.stepId}` : ""}`);
    expect(milestones).toEqual([
      "flow_start",
      "step_start:s1",
      "step_complete:s1",
      "step_start:s2",
      "step_complete:s2",
      "flow_complete",
    ]);

    const resumed = await sse(flowId, {}, "?lastEventId=3");
    await withTimeout(resumed.ended, 5_000, "resumed stream end");
    expect(resumed.events).toEqual(late.events.slice(3));

    // Already has everything of an ended flow: 204, which tells EventSource to stop reconnecting.
    const upToDate = await sse(flowId, { "last-event-id": String(late.events.length) });
    expect(upToDate.status).toBe(204);
  });

  it("a second run continues the numbering; a late client gets both runs and closes after the last", async () => {
    const flowId = await createFlow(slowFlow(1));
    await execute(flowId, true);
    await execute(flowId, true);
    const late = await sse(flowId);
    await withTimeout(late.ended, 5_000, "late stream end");
    expect(ids(late.events)).toEqual(range(1, late.events.length));
    expect(
      late.events.filter((e) => e.type === "flow_start").flatMap((e) => (e.type === "flow_start" ? [e.data.run] : [])),
    ).toEqual([1, 2]);
    expect(late.events.at(-1)!.type).toBe("flow_complete");
  });

  it("a run's end committed but its events not yet published: the stream stays open for them (not ended by the previous run's end)", async () => {
    const flowId = await createFlow(slowFlow(1));
    await execute(flowId, true);
    // As if a second run had just committed its end: the flow is terminal again, while its
    // events (published right after that commit) are not in the stream yet.
    const { deps } = api.engine;
    await updateFlow(deps.db, flowId, { run: 2, status: "completed", completedAt: new Date() });
    const client = await sse(flowId);
    let ended = false;
    void client.ended.then(() => (ended = true));
    await client.waitFor((events) => events.at(-1)?.type === "flow_complete"); // the first run's end
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false);

    await deps.bus.publish(flowId, "flow_start", { data: { run: 2, name: "f", type: "sequential", totalSteps: 1 } });
    await deps.bus.publish(flowId, "flow_complete", {
      data: { status: "completed", finalOutput: null, totalCost: 0, totalTokens: 0 },
    });
    await withTimeout(client.ended, 5_000, "stream end after the second run's events");
    expect(client.events.flatMap((e) => (e.type === "flow_start" ? [e.data.run] : []))).toEqual([1, 2]);
    expect(client.events.at(-1)?.type).toBe("flow_complete");
  });

  it("a run's end whose events never come (its process died after the commit) still ends the stream, after a grace period", async () => {
    const flowId = await createFlow(slowFlow(1));
    await execute(flowId, true);
    await updateFlow(api.engine.deps.db, flowId, { run: 2, status: "completed", completedAt: new Date() });
    const client = await sse(flowId);
    await withTimeout(client.ended, 5_000, "stream end without the second run's events");
  });

  it("history comes from the Postgres archive once the Redis stream is gone", async () => {
    const flowId = await createFlow(slowFlow(2));
    await execute(flowId, true);
    const before = await sse(flowId);
    await withTimeout(before.ended, 5_000, "stream end");
    await archiveEvents(api.engine.deps, flowId);
    const redis = createRedisConnection({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      role: "worker",
      name: "test-expire",
    });
    expect(await redis.del(`${api.prefix}:flow:{${flowId}}:events`, `${api.prefix}:flow:{${flowId}}:seq`)).toBe(2);
    await redis.quit();

    const after = await sse(flowId);
    await withTimeout(after.ended, 5_000, "archived stream end");
    expect(after.events).toEqual(before.events);
    const resumed = await sse(flowId, { "last-event-id": "2" });
    await withTimeout(resumed.ended, 5_000, "archived resumed stream end");
    expect(resumed.events).toEqual(before.events.slice(2));
  });

  it("WebSocket receives the same sequence as SSE and closes with 1000 when the flow ends", async () => {
    const flowId = await createFlow(slowFlow(3));
    const viaSse = await sse(flowId);
    const ws = new WebSocket(`${api.baseUrl.replace("http", "ws")}/v1/flows/${flowId}/ws`, {
      headers: { authorization: `Bearer ${owner.key}` },
    });
    const viaWs: FlowStreamUpdate[] = [];
    ws.on("message", (data) => viaWs.push(JSON.parse((data as Buffer).toString("utf8")) as FlowStreamUpdate));
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    await execute(flowId);
    expect(await withTimeout(closed, 15_000, "websocket close")).toBe(1000);
    await withTimeout(viaSse.ended, 5_000, "sse end");
    expect(viaWs.length).toBeGreaterThan(6);
    expect(viaWs).toEqual(viaSse.events);

    // Resuming works the same way over WebSocket (query parameter).
    const resumed = new WebSocket(`${api.baseUrl.replace("http", "ws")}/v1/flows/${flowId}/ws?lastEventId=4`, {
      headers: { authorization: `Bearer ${owner.key}` },
    });
    const rest: FlowStreamUpdate[] = [];
    resumed.on("message", (data) => rest.push(JSON.parse((data as Buffer).toString("utf8")) as FlowStreamUpdate));
    await withTimeout(new Promise((resolve) => resumed.on("close", resolve)), 5_000, "resumed websocket close");
    expect(rest).toEqual(viaSse.events.slice(4));
  });

  it("rejects before streaming: 401 without a valid key, 404 for another user's or an unknown flow, 400 for a bad Last-Event-ID", async () => {
    const flowId = await createFlow(slowFlow(1));
    expect((await openSse(`${api.baseUrl}/v1/flows/${flowId}/events`, {})).status).toBe(401);
    const badKey = await sse(flowId, { authorization: "Bearer ens_not_a_key_at_all_0000" });
    expect(badKey.status).toBe(401);
    expect(badKey.errorBody).toEqual({ error: expect.objectContaining({ code: "unauthorized" }) });
    const foreign = await sse(flowId, { authorization: `Bearer ${stranger.key}` });
    expect(foreign.status).toBe(404);
    expect(foreign.errorBody).toEqual({
      error: expect.objectContaining({ code: "not_found", message: "flow not found" }),
    });
    expect((await sse("no-such-flow")).status).toBe(404);
    const badId = await sse(flowId, { "last-event-id": "abc" });
    expect(badId.status).toBe(400);
    expect(badId.errorBody).toEqual({
      error: expect.objectContaining({
        code: "validation_error",
        details: [{ path: "Last-Event-ID", message: expect.any(String) }],
      }),
    });

    const wsStatus = (
      headers: Record<string, string>,
      id = flowId,
      query = "",
    ): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${api.baseUrl.replace("http", "ws")}/v1/flows/${id}/ws${query}`, { headers });
        ws.on("unexpected-response", (_req, res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on("open", () => reject(new Error("upgraded")));
        ws.on("error", () => undefined);
      });
    expect((await wsStatus({})).status).toBe(401);
    expect((await wsStatus({ authorization: "Bearer ens_not_a_key_at_all_0000" })).status).toBe(401);
    const wsForeign = await wsStatus({ authorization: `Bearer ${stranger.key}` });
    expect(wsForeign.status).toBe(404);
    expect(JSON.parse(wsForeign.body)).toEqual({ error: expect.objectContaining({ code: "not_found" }) });
    expect((await wsStatus({ authorization: `Bearer ${owner.key}` }, "no-such-flow")).status).toBe(404);
    expect((await wsStatus({ authorization: `Bearer ${owner.key}` }, flowId, "?lastEventId=-1")).status).toBe(400);
  });

  it("a thread member with read permission may follow; heartbeats arrive on both transports while nothing happens", async () => {
    const flowId = await createFlow(slowFlow(1));
    expect(
      (
        await api.request(owner.key, "PUT", `/v1/threads/${threadId}/members/${stranger.userId}`, {
          permissions: ["read"],
        })
      ).status,
    ).toBe(200);
    const member = await sse(flowId, { authorization: `Bearer ${stranger.key}` });
    expect(member.status).toBe(200);
    const ws = new WebSocket(`${api.baseUrl.replace("http", "ws")}/v1/flows/${flowId}/ws`, {
      headers: { authorization: `Bearer ${owner.key}` },
    });
    let pings = 0;
    ws.on("ping", () => (pings += 1));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(member.comments.filter((c) => c === "heartbeat").length).toBeGreaterThanOrEqual(3);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(member.events).toEqual([]); // never executed: nothing to send, the stream stays open
    member.abort();
    ws.close();
    await api.request(owner.key, "PUT", `/v1/threads/${threadId}/members/${stranger.userId}`, { permissions: [] });
  });

  it("a client that stops reading is dropped after slowClientMs; the server held only a prefix, and resuming loses nothing", async () => {
    const flowId = await createFlow(slowFlow(1));
    const { bus } = api.engine.deps;
    const big = "x".repeat(256 * 1024);
    // ~50 MB: far more than the socket buffers hold (on Linux a loopback receive buffer
    // grows to tcp_rmem's maximum, 32 MB here, even while the client reads nothing).
    const total = 200;
    for (let i = 0; i < total; i += 1)
      await bus.publish(flowId, "step_progress", { stepId: "s1", data: { iteration: 0, attempt: 0, delta: big } });
    const url = new URL(api.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    socket.write(
      `GET /v1/flows/${flowId}/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${owner.key}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    socket.pause(); // read nothing
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    expect(api.events.hub.size).toBe(1);
    // Dropped while it still reads nothing: the server did not wait for it.
    const deadline = Date.now() + 10_000;
    while (api.events.hub.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(api.events.hub.size).toBe(0);
    // Now read what the kernel had buffered: a prefix of the events, then the end.
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.resume();
    await withTimeout(closed, 10_000, "connection closed");
    const got = [...received.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(total);
    expect(got).toEqual(range(1, got.length));

    // The dropped client resumes from its last complete event: the next ones follow, in order, none missing.
    const lastComplete =
      [...received.matchAll(/^id: (\d+)\nevent: step_progress\ndata: .*\n\n/gm)].map((m) => Number(m[1])).at(-1) ?? 0;
    const resumed = await sse(flowId, { "last-event-id": String(lastComplete) });
    await resumed.waitFor((events) => events.length >= 5, 15_000);
    expect(ids(resumed.events.slice(0, 5))).toEqual(range(lastComplete + 1, lastComplete + 5));
    resumed.abort();
  });
});
