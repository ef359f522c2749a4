import type { Flow, FlowList, RunDetail, RunSummary, Thread } from "@ensemble/sdk";
import type { FlowGraph } from "./graph-layout.js";
import { session } from "./session.js";

/** An error answer of the API: its code and message are shown as they are. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, apiKey = session.apiKey()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${apiKey ?? ""}`, accept: "application/json" },
  });
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.code ?? "error", body.error?.message ?? `HTTP ${res.status}`);
  return body as T;
}

export interface ThreadList {
  items: Thread[];
  total: number;
}

export const api = {
  /** Checks a key before it is kept: any authenticated route answers 401 for a bad one. */
  checkKey: (apiKey: string) => call<ThreadList>("GET", "/v1/threads?limit=1", apiKey),
  listThreads: (offset = 0) => call<ThreadList>("GET", `/v1/threads?limit=50&offset=${offset}`),
  getThread: (threadId: string) => call<Thread>("GET", `/v1/threads/${encodeURIComponent(threadId)}`),
  listFlows: (threadId: string, offset = 0) =>
    call<FlowList>("GET", `/v1/threads/${encodeURIComponent(threadId)}/flows?limit=50&offset=${offset}`),
  getFlow: (flowId: string) => call<Flow>("GET", `/v1/flows/${encodeURIComponent(flowId)}`),
  getGraph: (flowId: string) => call<FlowGraph>("GET", `/v1/flows/${encodeURIComponent(flowId)}/graph`),
  listRuns: (flowId: string) =>
    call<{ items: RunSummary[] }>("GET", `/v1/flows/${encodeURIComponent(flowId)}/runs`).then((r) => r.items),
  getRun: (flowId: string, run: number) =>
    call<RunDetail>("GET", `/v1/flows/${encodeURIComponent(flowId)}/runs/${run}`),
  cancel: (flowId: string) => call<unknown>("POST", `/v1/flows/${encodeURIComponent(flowId)}/cancel`),
};
