import { ContextPolicySchema, isoOrNull, type FlowDefinition } from "@ensemble/core";
import { flowTotals, toFlowStepResult } from "@ensemble/engine";
import type { FlowRow, FlowRunRow, FlowRunSummary, MessageRow, StepResultRow, ThreadRow } from "@ensemble/db";

/** The stored flow as the API shows it, with its definition and run number. */
export function serializeFlow(flow: FlowRow, stepRows?: StepResultRow[]): Record<string, unknown> {
  const definition = flow.definition as unknown as FlowDefinition;
  return {
    id: flow.id,
    threadId: flow.threadId,
    name: flow.name,
    description: flow.description,
    flowType: flow.flowType,
    steps: definition.steps,
    contextPolicy: ContextPolicySchema.parse(definition.contextPolicy ?? {}),
    definition,
    status: flow.status,
    run: flow.run,
    currentStepIndex: flow.currentStepIndex,
    ...flowTotals(flow, stepRows),
    createdAt: isoOrNull(flow.createdAt),
    startedAt: isoOrNull(flow.startedAt),
    completedAt: isoOrNull(flow.completedAt),
    result: flow.result,
    error: flow.error,
    ...(stepRows ? { stepResults: stepRows.map(toFlowStepResult) } : {}),
  };
}

/** One run of a flow as the runs list shows it. */
export function serializeRunSummary(run: FlowRunSummary): Record<string, unknown> {
  return {
    run: run.run,
    status: run.status,
    onlyStepId: run.onlyStepId,
    rerunOf: run.rerunOf !== null ? { run: run.rerunOf, fromStep: run.rerunFromStep } : null,
    totalCost: run.totalCost,
    totalTokens: run.totalTokens,
    queuedAt: isoOrNull(run.queuedAt),
    startedAt: isoOrNull(run.startedAt),
    completedAt: isoOrNull(run.completedAt),
    error: run.error,
  };
}

/** One run with the definition it executed and its step results. */
export function serializeRunDetail(run: FlowRunRow, stepRows: StepResultRow[]): Record<string, unknown> {
  const result = run.result as { finalOutput?: string | null } | null;
  return {
    flowId: run.flowId,
    ...serializeRunSummary(run),
    input: run.input,
    definition: run.definition,
    finalOutput: result?.finalOutput ?? null,
    steps: stepRows.map(toFlowStepResult),
  };
}

export function serializeThread(thread: ThreadRow): Record<string, unknown> {
  return { id: thread.id, ownerId: thread.ownerId, title: thread.title, createdAt: isoOrNull(thread.createdAt) };
}

export function serializeMessage(message: MessageRow): Record<string, unknown> {
  return {
    id: message.id,
    threadId: message.threadId,
    role: message.role,
    content: message.content,
    provider: message.provider,
    metadata: message.metadata,
    createdAt: isoOrNull(message.createdAt),
  };
}
