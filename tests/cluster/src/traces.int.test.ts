import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Cluster, DEV_KEY } from "./cluster-harness.js";

/** A span as the OTLP/HTTP JSON exporter sends it, with its process's service.name. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

function valueOf(v: OtlpValue): unknown {
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.doubleValue ?? v.boolValue;
}

function attributesOf(list: { key: string; value: OtlpValue }[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));
}

/** A local OTLP receiver (test-only): POST /v1/traces with the JSON encoding. */
async function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: OtlpValue }[] };
          scopeSpans: {
            spans: (Omit<ReceivedSpan, "service" | "attributes"> & {
              attributes: { key: string; value: OtlpValue }[];
            })[];
          }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = String(attributesOf(rs.resource.attributes)["service.name"]);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) spans.push({ ...s, service, attributes: attributesOf(s.attributes) });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

describe("OpenTelemetry traces across processes", () => {
  let cluster: Cluster;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    cluster = await Cluster.start({
      workers: 1,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    receiver?.server.close();
  });

  const api = async (
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${cluster.baseUrl}${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json", ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return (await res.json()) as Record<string, unknown>;
  };

  it("one trace per run: request → run → step attempts → provider calls with GenAI attributes, no prompt text", async () => {
    const thread = await api("/v1/threads", { method: "POST", body: { title: "traces" } });
    const flow = await api("/v1/flows", {
      method: "POST",
      body: {
        threadId: thread.id,
        definition: {
          name: "traced",
          type: "sequential",
          steps: ["s1", "s2", "s3"].map((id) => ({
            id,
            provider: "sim",
            model: "echo",
            action: "generate",
            prompt: `${id}: {{ original }}`,
          })),
        },
      },
    });
    // The caller's own trace: the run joins it.
    const callerTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const executed = await api(`/v1/flows/${String(flow.id)}/execute?wait=true`, {
      method: "POST",
      body: { input: "secret-input-text" },
      headers: { traceparent: `00-${callerTraceId}-${callerSpanId}-01` },
    });
    expect(executed.status).toBe("completed");

    const deadline = Date.now() + 20_000;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === callerTraceId);
    while (Date.now() < deadline && inTrace().filter((s) => s.name.startsWith("chat ")).length < 3)
      await new Promise((r) => setTimeout(r, 100));
    while (Date.now() < deadline && !inTrace().some((s) => s.name === "run traced"))
      await new Promise((r) => setTimeout(r, 100));
    const spans = inTrace();

    const request = spans.find((s) => s.name === "POST /v1/flows/:flowId/execute");
    expect(request).toMatchObject({
      service: "ensemble-api",
      parentSpanId: callerSpanId,
      attributes: expect.objectContaining({ "http.response.status_code": 200 }),
    });
    const run = spans.find((s) => s.name === "run traced");
    expect(run).toMatchObject({
      parentSpanId: request!.spanId,
      attributes: expect.objectContaining({ "ensemble.flow.id": flow.id, "ensemble.run.status": "completed" }),
    });
    const steps = spans.filter((s) => s.name.startsWith("step "));
    expect(steps.map((s) => s.name).sort()).toEqual(["step s1", "step s2", "step s3"]);
    for (const step of steps) {
      expect(step).toMatchObject({ service: "ensemble-worker", parentSpanId: run!.spanId });
      const calls = spans.filter((s) => s.parentSpanId === step.spanId);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        name: "chat echo",
        kind: 3, // CLIENT
        attributes: expect.objectContaining({
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "sim",
          "gen_ai.request.model": "echo",
          "gen_ai.response.model": expect.any(String),
          "gen_ai.usage.input_tokens": expect.any(Number),
          "gen_ai.usage.output_tokens": expect.any(Number),
          "gen_ai.response.finish_reasons": ["stop"],
          "ensemble.cost_usd": expect.any(Number),
          "ensemble.attempt": 0,
          "ensemble.fallback_index": 0,
        }),
      });
    }
    // Prompts and outputs stay out of spans unless ENSEMBLE_TRACE_CONTENT=true.
    expect(JSON.stringify(spans)).not.toContain("secret-input-text");
  }, 60_000);
});
