import {
  apiContract,
  isTerminalFlowEvent,
  isTerminalFlowStatus,
  type FlowDefinitionInput,
  type FlowExecutionResult,
  type FlowStepResult,
  type FlowStreamUpdate,
  type FlowTemplateDescription,
} from "@ensemble/core";
import { FlowExecutionError } from "./errors/flow-execution-error.js";
import { streamFlowEvents } from "./flow-event-stream.js";
import { HttpClient, type HttpClientOptions } from "./http-client.js";
import type {
  ApprovalDecided,
  ApprovalInput,
  DataSharingPolicy,
  DataSharingPolicySettings,
  ExecuteFlowOptions,
  ExecuteStepOptions,
  Flow,
  FlowList,
  FlowStatus,
  ListFlowsOptions,
  ListFlowStepsOptions,
  Message,
  NewMessage,
  RerunOptions,
  RunComparison,
  RunDetail,
  RunSummary,
  NewSchedule,
  Schedule,
  Usage,
  UsageOptions,
  StepPage,
  StreamEventsOptions,
  Thread,
  ThreadList,
  ThreadMember,
  ThreadPermission,
  WaitingApproval,
} from "./types.js";

export type EnsembleClientOptions = HttpClientOptions;

/**
 * The Ensemble API as an `orchestratorService`: `createFlow`, `executeFlow`, … with the
 * argument order such services use. The calling user is the API key's: methods that took a `userId` still accept one
 * (and ignore it), so code written against an in-process service ports unchanged — `createFlow(threadId, userId, def)` and
 * `createFlow(threadId, def)` are the same call.
 */
export class EnsembleClient {
  private readonly http: HttpClient;

  constructor(options: EnsembleClientOptions) {
    this.http = new HttpClient(options);
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  // ── Threads, messages, policies ───────────────────────────────────────────

  async createThread(title: string): Promise<Thread> {
    return (await this.http.call(apiContract.createThread, {}, { body: { title } })).body;
  }

  /** The threads the caller may read (owns, or is a member with read), newest first. */
  async listThreads(options: { limit?: number; offset?: number } = {}): Promise<ThreadList> {
    return (await this.http.call(apiContract.listThreads, {}, { query: options })).body;
  }

  async getThread(threadId: string): Promise<Thread> {
    return (await this.http.call(apiContract.getThread, { threadId })).body;
  }

  /** Grants a user permissions on a thread (owner only); `[]` removes them. */
  async setThreadMember(threadId: string, userId: string, permissions: ThreadPermission[]): Promise<ThreadMember> {
    return (await this.http.call(apiContract.putThreadMember, { threadId, userId }, { body: { permissions } })).body;
  }

  async addMessage(threadId: string, message: NewMessage): Promise<Message> {
    return (await this.http.call(apiContract.createMessage, { threadId }, { body: message })).body;
  }

  /** The thread's messages, oldest first; those a flow saved carry `metadata.orchestrationFlowId`. */
  async listMessages(threadId: string): Promise<Message[]> {
    return (await this.http.call(apiContract.listMessages, { threadId })).body.items;
  }

  /** The caller's data-sharing policy for one provider (`openai`, `anthropic`, …). */
  async setPolicy(providerKey: string, policy: DataSharingPolicySettings): Promise<DataSharingPolicy> {
    return (await this.http.call(apiContract.putPolicy, { providerKey }, { body: policy })).body;
  }

  async listPolicies(): Promise<DataSharingPolicy[]> {
    return (await this.http.call(apiContract.listPolicies, {})).body.items;
  }

  // ── Flows ────────────────────────────────────────────────────────────────

  /** Validates and stores a flow (needs write on the thread); a bad definition is a 400 naming each field. */
  async createFlow(threadId: string, definition: FlowDefinitionInput): Promise<Flow>;
  async createFlow(threadId: string, userId: string, definition: FlowDefinitionInput): Promise<Flow>;
  async createFlow(threadId: string, a: string | FlowDefinitionInput, b?: FlowDefinitionInput): Promise<Flow> {
    const definition = typeof a === "string" ? b : a;
    return (await this.http.call(apiContract.createFlow, {}, { body: { threadId, definition } })).body;
  }

  /** The flow with its latest run's `stepResults`. */
  async getFlow(flowId: string, _userId?: string): Promise<Flow> {
    return (await this.http.call(apiContract.getFlow, { flowId })).body;
  }

  /** One page of the latest run's step results; follow `nextCursor` until it is null. */
  async listFlowSteps(flowId: string, options: ListFlowStepsOptions = {}): Promise<StepPage> {
    return (await this.http.call(apiContract.listFlowSteps, { flowId }, { query: options })).body;
  }

  /** Every step result of the latest run, read a page at a time (GET /v1/flows/:flowId/steps). */
  async *iterateFlowSteps(
    flowId: string,
    options: Omit<ListFlowStepsOptions, "cursor"> = {},
  ): AsyncGenerator<FlowStepResult, void, undefined> {
    let cursor: string | null | undefined;
    do {
      const page = await this.listFlowSteps(flowId, { ...(cursor ? { cursor } : {}), ...options });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  async listFlows(threadId: string, options?: ListFlowsOptions): Promise<FlowList>;
  async listFlows(threadId: string, userId: string, options?: ListFlowsOptions): Promise<FlowList>;
  async listFlows(threadId: string, a?: string | ListFlowsOptions, b?: ListFlowsOptions): Promise<FlowList> {
    const options = (typeof a === "string" ? b : a) ?? {};
    return (await this.http.call(apiContract.listFlows, { threadId }, { query: options })).body;
  }

  /** Deletes a flow (needs delete; a queued or running flow is a 409 `conflict`: cancel it first). */
  async deleteFlow(flowId: string, _userId?: string): Promise<void> {
    await this.http.call(apiContract.deleteFlow, { flowId });
  }

  /**
   * Runs the flow and resolves with its FlowExecutionResult once it completes; rejects with
   * FlowExecutionError (carrying the partial result) if it fails, is cancelled or times out.
   * With `streaming` or `onUpdate`, follows the run's events and calls `onUpdate` with each.
   */
  async executeFlow(flowId: string, options?: ExecuteFlowOptions): Promise<FlowExecutionResult>;
  async executeFlow(flowId: string, userId: string, options?: ExecuteFlowOptions): Promise<FlowExecutionResult>;
  async executeFlow(
    flowId: string,
    a?: string | ExecuteFlowOptions,
    b?: ExecuteFlowOptions,
  ): Promise<FlowExecutionResult> {
    const options = (typeof a === "string" ? b : a) ?? {};
    const body = {
      input: options.input,
      metadata: options.metadata,
      saveMessages: options.saveMessages,
      timeout: options.timeout,
      priority: options.priority,
      delivery: options.delivery,
      batchDeadline: options.batchDeadline,
    };
    const signal = options.signal;
    // Waiting, the server holds the request until the run ends (200); 202 means it gave up
    // first, or was not asked to wait because the caller follows the events.
    const wait = !options.streaming && !options.onUpdate;
    const res = await this.http.call(
      apiContract.executeFlow,
      { flowId },
      {
        body,
        headers: idempotencyHeader(options.idempotencyKey),
        ...(wait ? { query: { wait: "true" }, timeoutMs: false } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    return settle(
      res.status === 200 ? res.body : await this.waitForRun(flowId, res.body.run, options.onUpdate, signal),
    );
  }

  /**
   * Runs one step of the flow alone (`POST /v1/flows/:flowId/steps/:stepId/execute`) and
   * resolves with its result. The positional order is `(flowId, stepId, userId, input)`; the
   * user id is ignored. Or pass options: `executeStep(flowId, stepId, { input })`.
   */
  async executeStep(flowId: string, stepId: string, options?: ExecuteStepOptions): Promise<FlowStepResult>;
  async executeStep(flowId: string, stepId: string, userId: string, input?: string): Promise<FlowStepResult>;
  async executeStep(
    flowId: string,
    stepId: string,
    a?: string | ExecuteStepOptions,
    input?: string,
  ): Promise<FlowStepResult> {
    const options: ExecuteStepOptions = typeof a === "string" ? (input !== undefined ? { input } : {}) : (a ?? {});
    const body = {
      input: options.input,
      metadata: options.metadata,
      timeout: options.timeout,
      priority: options.priority,
    };
    const signal = options.signal;
    const wait = !options.onUpdate;
    const res = await this.http.call(
      apiContract.executeStep,
      { flowId, stepId },
      {
        body,
        headers: idempotencyHeader(options.idempotencyKey),
        ...(wait ? { query: { wait: "true" }, timeoutMs: false } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    if (res.status === 200) return res.body;
    return this.stepOf(await this.waitForRun(flowId, res.body.run, options.onUpdate, signal), stepId);
  }

  /** Asks the cluster to cancel the running flow; running provider calls abort within a second. */
  async cancelFlow(flowId: string, _userId?: string): Promise<void> {
    await this.http.call(apiContract.cancelFlow, { flowId });
  }

  /**
   * Decides a waiting approval step (needs write on the thread); the run goes on at once.
   * A step that is not waiting (decided, timed out, cancelled) is a 409 `conflict`; data that
   * breaks the step's responseSchema a 400 naming the path under `data`.
   */
  async approve(flowId: string, stepId: string, input: ApprovalInput): Promise<ApprovalDecided> {
    return (await this.http.call(apiContract.approveStep, { flowId, stepId }, { body: input })).body;
  }

  /** The approval steps waiting for a decision the caller may take, oldest first. */
  async listApprovals(options: { limit?: number } = {}): Promise<WaitingApproval[]> {
    const query = { status: "waiting", limit: options.limit };
    return (await this.http.call(apiContract.listApprovals, {}, { query })).body.items;
  }

  async getFlowStatus(flowId: string): Promise<FlowStatus> {
    return (await this.http.call(apiContract.getFlowStatus, { flowId })).body;
  }

  // ── Runs ─────────────────────────────────────────────────────────────────

  /** Every run of the flow, oldest first. */
  async listRuns(flowId: string): Promise<RunSummary[]> {
    return (await this.http.call(apiContract.listRuns, { flowId })).body.items;
  }

  /** One run: the definition it executed and its step results. */
  async getRun(flowId: string, run: number): Promise<RunDetail> {
    return (await this.http.call(apiContract.getRun, { flowId, run })).body;
  }

  /**
   * Reruns `run` from `options.fromStep` with `options.overrides`, waits for the new run to
   * end and returns it. The steps before `fromStep` are reused (`reusedFrom`, no provider call,
   * no cost); the source run is not changed.
   */
  async rerun(flowId: string, run: number, options: RerunOptions): Promise<RunDetail> {
    const { onUpdate, signal, idempotencyKey, ...body } = options;
    const started = (
      await this.http.call(
        apiContract.rerun,
        { flowId, run },
        { body, headers: idempotencyHeader(idempotencyKey), ...(signal ? { signal } : {}) },
      )
    ).body;
    await this.waitForRun(flowId, started.run, onUpdate, signal);
    return this.getRun(flowId, started.run);
  }

  /** Two runs side by side: each step in both, a word diff of the outputs, the totals. */
  async compare(flowId: string, runA: number, runB: number): Promise<RunComparison> {
    const query = { runs: `${runA},${runB}` };
    return (await this.http.call(apiContract.compareRuns, { flowId }, { query })).body as RunComparison;
  }

  /**
   * The flow's events (SSE), each once and in id order — the history after `lastEventId`,
   * then live ones — until the flow is over. Reconnects with Last-Event-ID when the
   * connection drops. `for await (const event of client.streamEvents(flowId)) …`
   */
  streamEvents(flowId: string, options: StreamEventsOptions = {}): AsyncGenerator<FlowStreamUpdate, void, undefined> {
    return streamFlowEvents(this.http, flowId, options);
  }

  // ── Schedules and usage ──────────────────────────────────────────────────

  /** Runs the flow on a cron schedule as the caller: one run per firing; firings over a spend cap are skipped. */
  async createSchedule(flowId: string, schedule: NewSchedule): Promise<Schedule> {
    return (await this.http.call(apiContract.createSchedule, { flowId }, { body: schedule })).body;
  }

  /** The flow's schedules, each with its latest firings (started or skipped, and why). */
  async listSchedules(flowId: string): Promise<Schedule[]> {
    return (await this.http.call(apiContract.listSchedules, { flowId })).body.items;
  }

  async deleteSchedule(flowId: string, scheduleId: string): Promise<void> {
    await this.http.call(apiContract.deleteSchedule, { flowId, scheduleId });
  }

  /** The caller's spend and tokens (default: this UTC month so far), optionally grouped. */
  async getUsage(options: UsageOptions = {}): Promise<Usage> {
    const iso = (d: Date | string | undefined) => (d instanceof Date ? d.toISOString() : d);
    const query = { from: iso(options.from), to: iso(options.to), groupBy: options.groupBy };
    return (await this.http.call(apiContract.getUsage, {}, { query })).body;
  }

  // ── Templates ────────────────────────────────────────────────────────────

  /** The seven templates and their parameters, as the server knows them. */
  async listTemplates(): Promise<FlowTemplateDescription[]> {
    return (await this.http.call(apiContract.listTemplates, {})).body.items;
  }

  /** Builds a template's FlowDefinition on the server (`createCritiqueFlow` etc. do the same locally). */
  async buildTemplate(name: string, parameters: Record<string, unknown> = {}): Promise<FlowDefinitionInput> {
    return (await this.http.call(apiContract.buildTemplate, { name }, { body: parameters })).body;
  }

  // ── Internals ────────────────────────────────────────────────────────────

  /**
   * Follows the flow's events until run `run` ends, passing that run's events to
   * `onUpdate`, then reads its result. Earlier runs' events (the stream starts at the
   * flow's first event) are skipped: a run's events begin with its `flow_start`.
   */
  private async waitForRun(
    flowId: string,
    run: number,
    onUpdate: ((update: FlowStreamUpdate) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<FlowExecutionResult> {
    let inRun = false;
    for await (const event of this.streamEvents(flowId, signal ? { signal } : {})) {
      if (event.type === "flow_start") inRun = event.data.run === run;
      if (inRun) onUpdate?.(event);
      // An earlier run's end does not end the wait, even when ours is already over: our
      // events follow in the stream, and onUpdate must see them. The server closes the stream
      // once the flow is over and everything was sent (also when ours was cancelled before it started).
      if (!isTerminalFlowEvent(event) || !inRun) continue;
      const ended = await this.endedRun(flowId, run);
      if (ended?.result) return ended.result;
    }
    const flow = await this.getFlow(flowId);
    if (flow.run === run && isTerminalFlowStatus(flow.status) && flow.result) return flow.result;
    throw new Error(`the event stream of flow ${flowId} ended before run ${run} did (status ${flow.status})`);
  }

  private async endedRun(flowId: string, run: number): Promise<Flow | null> {
    const flow = await this.getFlow(flowId);
    return flow.run === run && isTerminalFlowStatus(flow.status) ? flow : null;
  }

  private stepOf(result: FlowExecutionResult, stepId: string): FlowStepResult {
    const step = result.steps.find((s) => s.stepId === stepId);
    if (!step) throw new FlowExecutionError(result);
    return step;
  }
}

/** Creates a client: `createEnsembleClient({ baseUrl, apiKey })`. */
export function createEnsembleClient(options: EnsembleClientOptions): EnsembleClient {
  return new EnsembleClient(options);
}

function settle(result: FlowExecutionResult): FlowExecutionResult {
  if (result.status !== "completed") throw new FlowExecutionError(result);
  return result;
}

function idempotencyHeader(key: string | undefined): Record<string, string> {
  return key ? { "idempotency-key": key } : {};
}
