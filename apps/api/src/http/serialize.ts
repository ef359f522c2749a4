import { ContextPolicySchema, isoOrNull, type FlowDefinition, type FlowExecutionResult } from "@ensemble/core";
import { flowTotals, toFlowStepResult } from "@ensemble/engine";
import type { z } from "zod";
import { FlowResponse, MessageResponse, RunDetailResponse, RunSummaryResponse, ThreadResponse } from "@ensemble/core";
import type { FlowRow, FlowRunRow, FlowRunSummary, MessageRow, StepResultRow, ThreadRow } from "@ensemble/db";

/** The stored flow as the API shows it, with its definition and run number. */
export function serializeFlow(flow: FlowRow, stepRows?: StepResultRow[]): Shape<typeof FlowResponse> {
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
    priority: flow.priority,
    currentStepIndex: flow.currentStepIndex,
    ...flowTotals(flow, stepRows),
    createdAt: flow.createdAt.toISOString(),
    startedAt: isoOrNull(flow.startedAt),
    completedAt: isoOrNull(flow.completedAt),
    // Stored by the engine from a FlowExecutionResult.
    result: flow.result as FlowExecutionResult | null,
    error: flow.error,
    ...(stepRows ? { stepResults: stepRows.map(toFlowStepResult) } : {}),
  };
}

/** One run of a flow as the runs list shows it. */
export function serializeRunSummary(run: FlowRunSummary): Shape<typeof RunSummaryResponse> {
  return {
    run: run.run,
    status: run.status,
    onlyStepId: run.onlyStepId,
    rerunOf:
      run.rerunOf !== null && run.rerunFromStep !== null ? { run: run.rerunOf, fromStep: run.rerunFromStep } : null,
    totalCost: run.totalCost,
    totalTokens: run.totalTokens,
    queuedAt: isoOrNull(run.queuedAt),
    startedAt: isoOrNull(run.startedAt),
    completedAt: isoOrNull(run.completedAt),
    error: run.error,
  };
}

/** One run with the definition it executed and its step results. */
export function serializeRunDetail(run: FlowRunRow, stepRows: StepResultRow[]): Shape<typeof RunDetailResponse> {
  const result = run.result as { finalOutput?: string | null } | null;
  return {
    flowId: run.flowId,
    ...serializeRunSummary(run),
    input: run.input,
    definition: run.definition as unknown as FlowDefinition,
    finalOutput: result?.finalOutput ?? null,
    steps: stepRows.map(toFlowStepResult),
  };
}

export function serializeThread(thread: ThreadRow): Shape<typeof ThreadResponse> {
  return { id: thread.id, ownerId: thread.ownerId, title: thread.title, createdAt: thread.createdAt.toISOString() };
}

export function serializeMessage(message: MessageRow): Shape<typeof MessageResponse> {
  return {
    id: message.id,
    threadId: message.threadId,
    role: message.role,
    content: message.content,
    provider: message.provider,
    metadata: message.metadata,
    createdAt: message.createdAt.toISOString(),
  };
}

/**
 * What a route answers, typed by the response schema the OpenAPI document publishes for it:
 * a serializer that drifts from its schema does not compile.
 */
export type Shape<S extends z.ZodType> = z.input<S>;
