import { z } from "zod";
import { OrchestrationFlowStatusSchema, OrchestrationFlowTypeSchema, StepActionSchema } from "./enums.js";
import { StepErrorSchema, TokenUsageSchema } from "./results.js";

const iteration = z.number().int().nonnegative().describe("0 outside a loop; 1, 2, … per loop iteration");
const attempt = z.number().int().nonnegative().describe("0 for the first call, then one more per retry");
const FlowErrorSchema = StepErrorSchema.extend({ stepId: z.string().optional() });

/**
 * The `data` of each event type. The engine publishes exactly these shapes (its emit
 * calls are typed by them), the API streams them, and the OpenAPI document and the SDK
 * take their types from here; adding an event type means adding its entry.
 */
export const FlowEventDataSchemas = {
  flow_start: z.object({
    run: z.number().int().positive(),
    name: z.string(),
    type: OrchestrationFlowTypeSchema,
    totalSteps: z.number().int().nonnegative(),
  }),
  step_start: z.object({ iteration, attempt, provider: z.string(), model: z.string(), action: StepActionSchema }),
  step_progress: z.object({ iteration, attempt, delta: z.string().describe("text streamed since the last event") }),
  step_retry: z.object({
    iteration,
    attempt: attempt.describe("the attempt about to start"),
    delayMs: z.number().int().nonnegative(),
    error: StepErrorSchema.nullable().describe("what made the previous attempt fail"),
  }),
  step_complete: z.object({
    iteration,
    attempt,
    output: z.string(),
    provider: z.string(),
    model: z.string(),
    usage: TokenUsageSchema.nullable(),
    cost: z.number().nullable().describe("USD; null when the model has no known price"),
    reusedFrom: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("a rerun's step copied from this run: no provider call, no cost"),
  }),
  step_skipped: z.object({ iteration, reason: z.string() }),
  step_waiting: z.object({
    iteration,
    prompt: z.string().describe("what the approver sees: the approval step's rendered prompt"),
    expiresAt: z.string().describe("ISO 8601: when the step's onTimeout decision is taken"),
  }),
  step_batched: z.object({
    iteration,
    attempt,
    provider: z.string(),
    model: z.string(),
    deadline: z.string().describe("ISO 8601: past this (less the step's timeout) the step is called at once instead"),
  }),
  error: z.object({ iteration, attempt: attempt.optional(), error: StepErrorSchema }),
  flow_complete: z.object({
    status: z.literal("completed"),
    finalOutput: z.string().nullable(),
    totalCost: z.number(),
    totalTokens: z.number().int().nonnegative(),
  }),
  flow_failed: z.object({
    status: OrchestrationFlowStatusSchema.extract(["failed", "timed_out"]),
    error: FlowErrorSchema.nullable(),
  }),
  flow_cancelled: z.object({ status: z.literal("cancelled"), cancelledSteps: z.array(z.string()) }),
} as const;

export type FlowEventType = keyof typeof FlowEventDataSchemas;
export const FlowEventTypeSchema = z.enum(Object.keys(FlowEventDataSchemas) as [FlowEventType, ...FlowEventType[]]);
export type FlowEventData<T extends FlowEventType> = z.infer<(typeof FlowEventDataSchemas)[T]>;

function eventSchema<T extends FlowEventType>(type: T) {
  return z.object({
    id: z.number().int().positive().describe("increases per flow: resume after it"),
    type: z.literal(type),
    flowId: z.string(),
    stepId: z.string().optional(),
    data: FlowEventDataSchemas[type],
    timestamp: z.string().describe("ISO 8601"),
  });
}

/** One progress event, discriminated by `type`; narrowing on `type` gives its `data`. */
export const FlowStreamUpdateSchema = z.discriminatedUnion("type", [
  eventSchema("flow_start"),
  eventSchema("step_start"),
  eventSchema("step_progress"),
  eventSchema("step_retry"),
  eventSchema("step_complete"),
  eventSchema("step_skipped"),
  eventSchema("step_waiting"),
  eventSchema("step_batched"),
  eventSchema("error"),
  eventSchema("flow_complete"),
  eventSchema("flow_failed"),
  eventSchema("flow_cancelled"),
]);
export type FlowStreamUpdate = z.infer<typeof FlowStreamUpdateSchema>;
/** One event of a given type. */
export type FlowStreamUpdateOf<T extends FlowEventType> = Extract<FlowStreamUpdate, { type: T }>;

/** An event as the engine hands it to the bus: what it says, before the bus numbers and stamps it. */
export type FlowEventInput = {
  [T in FlowEventType]: { flowId: string; type: T; stepId?: string; data: FlowEventData<T> };
}[FlowEventType];

/** The events that end a run, one per way it can end. */
export const TERMINAL_FLOW_EVENT_TYPES = ["flow_complete", "flow_failed", "flow_cancelled"] as const;
export type TerminalFlowEventType = (typeof TERMINAL_FLOW_EVENT_TYPES)[number];

export function isTerminalFlowEvent(event: FlowStreamUpdate): event is FlowStreamUpdateOf<TerminalFlowEventType> {
  return (TERMINAL_FLOW_EVENT_TYPES as readonly string[]).includes(event.type);
}
