import { DEV_KEY } from "./cluster-harness.js";

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A small HTTP client for the contract's routes, as an outside service would call them. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly key = DEV_KEY,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  async createThread(title = "test thread"): Promise<string> {
    const res = await this.request<{ id: string }>("POST", "/v1/threads", { title });
    if (res.status !== 201) throw new Error(`create thread: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  async createFlow(threadId: string, definition: unknown): Promise<string> {
    const res = await this.request<{ id: string }>("POST", "/v1/flows", { threadId, definition });
    if (res.status !== 201) throw new Error(`create flow: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  async execute(flowId: string, body: Record<string, unknown> = {}, wait = false): Promise<ApiResponse> {
    return this.request("POST", `/v1/flows/${flowId}/execute${wait ? "?wait=true" : ""}`, body);
  }

  async status(flowId: string): Promise<Record<string, unknown>> {
    return (await this.request("GET", `/v1/flows/${flowId}/status`)).body;
  }

  async flow(flowId: string): Promise<FlowBody> {
    return (await this.request<FlowBody>("GET", `/v1/flows/${flowId}`)).body;
  }

  /** An ended flow's whole event history, as its SSE stream replays it (the server ends the stream). */
  async eventHistory(flowId: string): Promise<FlowEventBody[]> {
    const res = await fetch(`${this.baseUrl}/v1/flows/${flowId}/events`, {
      headers: { authorization: `Bearer ${this.key}` },
      signal: AbortSignal.timeout(15_000),
    });
    // 204: the flow has ended and there is nothing to replay.
    if (res.status === 204) return [];
    if (res.status !== 200) throw new Error(`events of ${flowId}: ${res.status}`);
    const text = await res.text();
    return text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice("data: ".length)) as FlowEventBody);
  }

  /** Polls the status until `done` holds (or throws after `timeoutMs`). */
  async waitForStatus(flowId: string, statuses: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      last = await this.status(flowId);
      if (statuses.includes(last.status as string)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`flow ${flowId} still ${String(last.status)} after ${timeoutMs} ms`);
  }
}

export interface FlowEventBody {
  id: number;
  type: string;
  stepId?: string;
  data: unknown;
}

export interface StepResultBody {
  stepId: string;
  status: string;
  output: string | null;
  iteration: number;
  retryCount: number;
  provider: string;
  model: string;
  error?: { code: string; message: string };
}

export interface FlowBody {
  id: string;
  status: string;
  result: { finalOutput: string | null; totalCost: number } | null;
  stepResults: StepResultBody[];
  error: { code: string; message: string } | null;
}

export function simStep(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, provider: "sim", model: "echo", action: "generate", prompt: `${id}: {{ previous }}`, ...extra };
}
