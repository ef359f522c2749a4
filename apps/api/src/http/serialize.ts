import { ContextPolicySchema, type FlowDefinition } from "@ensemble/core";
import { toFlowStepResult } from "@ensemble/engine";
import type { FlowRow, MessageRow, StepResultRow, ThreadRow } from "@ensemble/db";

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The stored flow as the API shows it (the seed's OrchestrationFlow, plus the definition and run). */
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
    totalCost: flow.totalCost,
    totalTokens: flow.totalTokens,
    createdAt: iso(flow.createdAt),
    startedAt: iso(flow.startedAt),
    completedAt: iso(flow.completedAt),
    result: flow.result,
    error: flow.error,
    ...(stepRows ? { stepResults: stepRows.map(toFlowStepResult) } : {}),
  };
}

export function serializeThread(thread: ThreadRow): Record<string, unknown> {
  return { id: thread.id, ownerId: thread.ownerId, title: thread.title, createdAt: iso(thread.createdAt) };
}

export function serializeMessage(message: MessageRow): Record<string, unknown> {
  return {
    id: message.id,
    threadId: message.threadId,
    role: message.role,
    content: message.content,
    provider: message.provider,
    metadata: message.metadata,
    createdAt: iso(message.createdAt),
  };
}
